// Scenario 10: single-row iris inference over the V2 REST protocol (HTTP/JSON, keep-alive, wrk,
// one thread, c connections, closed loop) — mlbridge vs MLServer's REST, and vs mlbridge's own
// gRPC Predict (ghz) on the same server, at concurrency 1/16/64.
import { IRIS_ROW, haveGhz, haveWrk, runWrkAsync, nodeLoad, summary, fmt } from "../lib.mjs";
import { haveMlserver, startMlserver } from "../mlserver.mjs";
import { load, mlbridgeWithIris } from "./s1-predict.mjs";

/** The V2 REST body of one iris row; MLServer's XGBoost runtime takes any input name. */
const body = (name) => ({ inputs: [{ name, datatype: "FP32", shape: [1, 4], data: IRIS_ROW }] });

/** One REST load run: wrk when installed, else a Node fetch loop (keep-alive too). */
async function rest(url, json, opts) {
  if (haveWrk()) return { ...(await runWrkAsync(url, json, opts)), tool: "wrk" };
  const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(json) };
  const call = async () => {
    const r = await fetch(url, init);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(String(r.status));
  };
  return { ...(await nodeLoad(call, opts)), tool: "node-fetch" };
}

export default async function s10(ctx) {
  const conc = ctx.quick ? [1, 16] : [1, 16, 64];
  const seconds = ctx.quick ? 1 : 5;
  const notes = [];
  const mb = await mlbridgeWithIris(ctx);
  const targets = { "mlbridge REST": { url: `http://127.0.0.1:${mb.srv.httpPort}/v2/models/iris/infer`, body: body("input") } };
  let mls;
  if (ctx.quick) notes.push("quick mode: no MLServer");
  else if (process.env.BENCH_NO_MLSERVER) notes.push("MLServer skipped: BENCH_NO_MLSERVER set");
  else if (!haveMlserver()) notes.push(`MLServer skipped: not installed (${ctx.peerStatus?.mlserver ?? "see bench/setup.sh"})`);
  else {
    try {
      mls = await startMlserver(ctx.iris.file);
      targets["MLServer REST"] = { url: `http://127.0.0.1:${mls.http}/v2/models/iris/infer`, body: body("input-0") };
    } catch (e) {
      notes.push(`MLServer skipped: ${e.message}`);
    }
  }
  if (!haveWrk()) notes.push("wrk not installed (apt-get install wrk): REST load from a Node fetch loop in the harness's process");
  if (!haveGhz()) notes.push("ghz not installed: gRPC load from the Node grpc-js client loop (same process as the harness)");
  const res = {};
  try {
    // Both answer the same class before anything is timed.
    for (const [name, t] of Object.entries(targets)) {
      const r = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(t.body) });
      const j = await r.json();
      if (!r.ok) throw new Error(`${name}: HTTP ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
      ctx.log(`  s10 ${name} answers: ${JSON.stringify(j.outputs.map((o) => [o.name, o.data]))}`);
    }
    const runOne = (name, c, secs) =>
      name === "mlbridge gRPC Predict"
        ? load(mb.target, { concurrency: c, seconds: secs })
        : rest(targets[name].url, targets[name].body, { concurrency: c, seconds: secs });
    const names = [...Object.keys(targets), "mlbridge gRPC Predict"];
    for (const c of conc) {
      for (const n of names) await runOne(n, c, ctx.quick ? 0.5 : 1.5); // warm-up
      const runs = Object.fromEntries(names.map((n) => [n, []]));
      for (let r = 0; r < ctx.repeats; r++) for (const n of names) runs[n].push(await runOne(n, c, seconds));
      for (const [n, rs] of Object.entries(runs)) {
        const k = `${n} c=${c}`;
        res[k] = {
          target: n,
          concurrency: c,
          rps: summary(rs.map((x) => x.rps)),
          p50_ms: summary(rs.map((x) => x.p50_ms)),
          p99_ms: summary(rs.map((x) => x.p99_ms)),
          errors: rs.reduce((a, x) => a + x.errors, 0),
          tool: rs[0].tool,
        };
        ctx.log(
          `  s10 ${k}: ${fmt(res[k].rps.median, 0)} req/s (±${fmt(res[k].rps.spreadPct, 1)}%), p50 ${fmt(res[k].p50_ms.median, 3)} ms, p99 ${fmt(res[k].p99_ms.median, 3)} ms, errors ${res[k].errors} (${res[k].tool})`,
        );
      }
    }
  } finally {
    await mb.stop();
    if (mls) await mls.stop();
  }
  const ratios = [];
  for (const c of conc) {
    const m = res[`mlbridge REST c=${c}`].rps.median;
    if (res[`MLServer REST c=${c}`])
      ratios.push({ name: `REST infer c=${c}: mlbridge / MLServer (req/s)`, value: m / res[`MLServer REST c=${c}`].rps.median, goal: 3, op: ">=" });
    ratios.push({ name: `REST infer c=${c}: mlbridge REST / mlbridge gRPC Predict (req/s)`, value: m / res[`mlbridge gRPC Predict c=${c}`].rps.median });
  }
  const errors = Object.values(res).reduce((a, r) => a + r.errors, 0);
  if (errors) notes.push(`${errors} failed requests in all (non-2xx or socket errors for wrk; ghz counts calls in flight at its deadline)`);
  return { results: res, ratios, notes };
}
