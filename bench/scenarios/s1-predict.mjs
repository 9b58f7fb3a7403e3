// Scenario 1: single-row iris Predict throughput and latency at concurrency 1/16/64 (ghz, one
// connection, closed loop): mlbridge vs the empty grpc-js handler (transport ceiling) vs MLServer (V2).
import path from "node:path";
import {
  BENCH,
  IRIS_ROW,
  clients,
  unary,
  importModel,
  startServerProcess,
  startNodeScript,
  haveGhz,
  runGhzAsync,
  nodeLoad,
  summary,
  fmt,
  xgbPredictData,
} from "../lib.mjs";
import { haveMlserver, startMlserver, V2_TARGET } from "../mlserver.mjs";

export const mlbridgeTarget = (address) => ({
  address,
  call: "mlbridge.v1.XgboostService/Predict",
  proto: path.join(BENCH, "proto/bench_predict.proto"),
  importPaths: [path.join(BENCH, "proto")],
  data: xgbPredictData(IRIS_ROW),
});
const REQ = { modelName: "iris", input: { $case: "matrix", value: { rows: 1, cols: 4, values: IRIS_ROW } }, output: 0 };

/** One load run against a target: ghz when installed, else the Node client loop. */
export async function load(target, opts) {
  if (haveGhz()) return { ...(await runGhzAsync(target, opts)), tool: "ghz" };
  if (!target.node) throw new Error("no ghz and no Node loop for " + target.call);
  return { ...(await nodeLoad(target.node, opts)), tool: "node-loop" };
}
export async function mlbridgeWithIris(ctx, opts = {}) {
  const srv = await startServerProcess({ env: ctx.serverEnv ?? {}, ...opts });
  const cl = clients(srv.address);
  await importModel(cl, "iris", 2, ctx.iris.json, { classNames: ctx.iris.classNames });
  const first = await unary(cl.xgb, "predict", REQ);
  const t = mlbridgeTarget(srv.address);
  t.node = () => unary(cl.xgb, "predict", REQ);
  return {
    srv,
    cl,
    target: t,
    first,
    stop: async () => {
      cl.close();
      await srv.stop();
    },
  };
}

export default async function s1(ctx) {
  const conc = ctx.quick ? [1, 16] : [1, 16, 64];
  const seconds = ctx.quick ? 1 : 5;
  const notes = [];
  const cpuProf = ctx.quick ? undefined : path.join(BENCH, "results", "s1-server.cpuprofile");
  // The measured server runs unprofiled (sampling slows the process it samples, and only
  // ours would pay); the CPU profile comes from a separate run afterwards.
  const mb = await mlbridgeWithIris(ctx);
  const empty = await startNodeScript(path.join(BENCH, "empty-server.mjs"), [JSON.stringify(mb.first)]);
  const emptyCl = clients(empty.address);
  const emptyT = mlbridgeTarget(empty.address);
  emptyT.node = () => unary(emptyCl.xgb, "predict", REQ);
  const targets = { mlbridge: mb.target, "grpc-js empty": emptyT };
  let mls;
  if (ctx.quick) notes.push("quick mode: no MLServer");
  else if (process.env.BENCH_NO_MLSERVER) notes.push("MLServer skipped: BENCH_NO_MLSERVER set");
  else if (!haveGhz()) notes.push("MLServer skipped: needs ghz for the V2 protocol");
  else if (!haveMlserver()) notes.push(`MLServer skipped: not installed (${ctx.peerStatus?.mlserver ?? "see bench/setup.sh"})`);
  else {
    try {
      mls = await startMlserver(ctx.iris.file);
      targets.MLServer = V2_TARGET(mls.address);
    } catch (e) {
      notes.push(`MLServer skipped: ${e.message}`);
    }
  }
  if (!haveGhz()) notes.push("ghz not installed: load from the Node grpc-js client loop (same process as the harness)");
  const res = {};
  try {
    for (const c of conc) {
      for (const t of Object.values(targets)) await load(t, { concurrency: c, seconds: ctx.quick ? 0.5 : 1.5 }); // warm-up
      const runs = Object.fromEntries(Object.keys(targets).map((n) => [n, []]));
      for (let r = 0; r < ctx.repeats; r++) for (const [name, t] of Object.entries(targets)) runs[name].push(await load(t, { concurrency: c, seconds }));
      for (const [name, rs] of Object.entries(runs)) {
        res[`${name} c=${c}`] = {
          target: name,
          concurrency: c,
          rps: summary(rs.map((x) => x.rps)),
          p50_ms: summary(rs.map((x) => x.p50_ms)),
          p99_ms: summary(rs.map((x) => x.p99_ms)),
          errors: rs.reduce((a, x) => a + x.errors, 0),
          errorKinds: [...new Set(rs.flatMap((x) => Object.keys(x.errorDistribution ?? {})))],
          tool: rs[0].tool,
        };
        ctx.log(
          `  s1 ${name} c=${c}: ${fmt(res[`${name} c=${c}`].rps.median, 0)} req/s (±${fmt(res[`${name} c=${c}`].rps.spreadPct, 1)}%), p50 ${fmt(res[`${name} c=${c}`].p50_ms.median, 3)} ms, p99 ${fmt(res[`${name} c=${c}`].p99_ms.median, 3)} ms, errors ${res[`${name} c=${c}`].errors}`,
        );
      }
    }
  } finally {
    emptyCl.close();
    await empty.stop();
    await mb.stop();
    if (mls) await mls.stop();
  }
  if (cpuProf) {
    const prof = await mlbridgeWithIris(ctx, { cpuProf });
    try {
      await load(prof.target, { concurrency: 16, seconds });
    } finally {
      await prof.stop();
    }
  }
  const ratios = [];
  for (const c of conc) {
    const m = res[`mlbridge c=${c}`].rps.median;
    ratios.push({ name: `predict c=${c}: mlbridge / grpc-js empty (req/s)`, value: m / res[`grpc-js empty c=${c}`].rps.median, goal: 0.9, op: ">=" });
    if (res[`MLServer c=${c}`])
      ratios.push({ name: `predict c=${c}: mlbridge / MLServer (req/s)`, value: m / res[`MLServer c=${c}`].rps.median, goal: 3, op: ">=" });
  }
  if (cpuProf) notes.push("server CPU profile: bench/results/s1-server.cpuprofile (gitignored), from a separate run at c=16 after the measurements");
  return { results: res, ratios, notes, cpuProfile: cpuProf };
}
