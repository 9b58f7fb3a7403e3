// Starts MLServer (bench venv) serving an XGBoost JSON model under the name `iris` (mlserver-xgboost),
// with HTTP and gRPC on free loopback ports. Resolves once the model is ready.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync, mkdirSync, copyFileSync, createWriteStream } from "node:fs";
import net from "node:net";
import path from "node:path";
import { PEERS, BENCH, sleep, stopChild, tmpdir, PROTO_DIR } from "./lib.mjs";

export const MLSERVER = path.join(PEERS, "venv/bin/mlserver");
export const haveMlserver = () => existsSync(MLSERVER);
const freePort = () =>
  new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

export async function startMlserver(modelFile) {
  const dir = tmpdir("mlbridge-bench-mlserver-");
  const [http, grpcPort, metrics] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(path.join(dir, "iris"));
  copyFileSync(modelFile, path.join(dir, "iris", "model.json"));
  writeFileSync(
    path.join(dir, "settings.json"),
    JSON.stringify({ host: "127.0.0.1", http_port: http, grpc_port: grpcPort, metrics_port: metrics, debug: false }),
  );
  writeFileSync(
    path.join(dir, "iris", "model-settings.json"),
    JSON.stringify({ name: "iris", implementation: "mlserver_xgboost.XGBoostModel", parameters: { uri: "./model.json" } }),
  );
  const log = createWriteStream(path.join(BENCH, "results", "mlserver.log"));
  const child = spawn(MLSERVER, ["start", dir], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode != null) throw new Error(`mlserver exited with ${child.exitCode} (see bench/results/mlserver.log)`);
    if (Date.now() - t0 > 120000) {
      await stopChild(child, dir);
      throw new Error("mlserver not ready in 120 s (see bench/results/mlserver.log)");
    }
    try {
      const r = await fetch(`http://127.0.0.1:${http}/v2/models/iris/ready`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    await sleep(300);
  }
  return { address: `127.0.0.1:${grpcPort}`, http, pid: child.pid, child, stop: () => stopChild(child, dir) };
}
export const V2_TARGET = (address) => ({
  address,
  call: "inference.GRPCInferenceService/ModelInfer",
  proto: path.join(PROTO_DIR, "inference/grpc_predict_v2.proto"),
  importPaths: [PROTO_DIR],
  data: { model_name: "iris", inputs: [{ name: "input-0", datatype: "FP32", shape: [1, 4], contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] } }] },
});
