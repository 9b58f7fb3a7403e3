/**
 * `--load NAME=URI` (MLBRIDGE_LOAD): models put into the store at start, so
 * that a KServe single-model deployment (the model mounted at /mnt/models)
 * serves without a call to ModelService. Each file is read (source.ts),
 * kind-detected and imported through its runtime with ImportModel's checks;
 * a name already holding the same model is left as it is (a restart does not
 * make a new version). Any failure stops the start with a message naming
 * NAME and URI.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ModelLoad } from "./config";
import { importFile, type ModelSources, runtimeFor } from "./source";
import type { ModelStore } from "./store";

/**
 * Loads each `--load` model into the store, in order.
 * @throws Error `--load NAME=URI: …` for a missing, unreadable or corrupt model
 */
export async function loadAtStart(loads: ModelLoad[], store: ModelStore, sources: ModelSources, log: Logger): Promise<void> {
  for (const load of loads) {
    const label = `--load ${load.name}=${load.uri}`;
    try {
      const source = await sources.read(load.path);
      const runtime = runtimeFor(store.runtimes, source.bytes, load.kind);
      const imported = await importFile(runtime, source);
      const { model, bytes, ...fields } = imported;
      const current = store.has(load.name) ? store.meta(load.name) : undefined;
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      if (current && current.sha256 === sha256 && current.kind === runtime.kind) {
        model.dispose();
        log.info({ model: load.name, uri: load.uri, version: current.version ?? 1 }, "--load: the store already holds this model");
        continue;
      }
      const meta = await store.withLock(load.name, async () => {
        try {
          return await store.save(
            { name: load.name, kind: runtime.kind, ...fields, parameters: { ...fields.parameters, source: load.uri }, metrics: {} },
            bytes,
            model,
          );
        } catch (err) {
          model.dispose();
          throw err;
        }
      });
      log.info(
        { model: load.name, uri: load.uri, from: source.location, kind: runtime.kind, version: meta.version, bytes: source.bytes.length },
        "--load: model loaded",
      );
    } catch (err) {
      const e = err as { details?: string; message?: string };
      throw new Error(`${label}: ${e.details ?? e.message ?? String(err)}`);
    }
  }
}
