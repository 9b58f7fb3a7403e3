/**
 * The CRF training process (see train.ts): receives the data over IPC, trains
 * with the addon, sends the log lines and the model bytes back, and exits.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { binding, type NativeItem } from "../binding";

interface TrainMessage {
  type: "train";
  algorithm: string;
  params: Record<string, string>;
  sequences: { items: NativeItem[]; labels: string[] }[];
}

function send(msg: unknown): Promise<void> {
  return new Promise((resolve) => process.send!(msg, undefined, {}, () => resolve()));
}

process.once("message", (msg: TrainMessage) => {
  void (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mlbridge-crf-"));
    try {
      const trainer = new (binding().CrfTrainer)(msg.algorithm);
      for (const [k, v] of Object.entries(msg.params)) trainer.set(k, v);
      for (const s of msg.sequences) trainer.append(s.items, s.labels, 0);
      const file = path.join(dir, "model.crfsuite");
      const { status } = await trainer.train(file, -1, (line) => {
        process.send!({ type: "log", line });
      });
      if (status !== 0) throw Object.assign(new Error(`crfsuite training failed with status ${status}`), { code: "CRFSUITE_ERROR" });
      const model = await readFile(file);
      trainer.dispose();
      await send({ type: "done", model });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      await send({ type: "error", code: e.code ?? "INTERNAL", message: e.message ?? String(err) });
    } finally {
      await rm(dir, { recursive: true, force: true });
      process.disconnect();
    }
  })();
});
