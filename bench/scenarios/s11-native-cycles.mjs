// Scenario 11: native memory over model lifecycles. A fresh Node process runs 1,000 cycles (quick: 200)
// of XGBoost train / predict / save / load / dispose and CRF load / tag / dispose after 100 warm-up
// cycles (bench/native-cycles.mjs); RSS growth over the measured cycles, goal ≤ 64 MiB (a leak of a
// booster or tagger per cycle would show as hundreds). Moved here from a unit test: a memory bound is
// a goal to measure, not a behaviour to assert.
import path from "node:path";
import { BENCH, runJson, fmt } from "../lib.mjs";

export default async function s11(ctx) {
  const n = ctx.quick ? 200 : 1000;
  const samples = [];
  for (let r = 0; r < (ctx.quick ? 1 : ctx.repeats); r++) {
    const out = await runJson(process.execPath, path.join(BENCH, "native-cycles.mjs"), n, ["--expose-gc"]);
    samples.push(out.afterMiB - out.beforeMiB);
    ctx.log(`  s11 ${n} cycles: RSS ${fmt(out.beforeMiB, 1)} → ${fmt(out.afterMiB, 1)} MiB (+${fmt(out.afterMiB - out.beforeMiB, 1)})`);
  }
  const worst = Math.max(...samples);
  return {
    results: { cycles: n, growthMiB: samples },
    notes: [`${n} cycles after 100 warm-up ones, in a fresh process each repeat; the worst repeat is the ratio`],
    ratios: [{ name: `native memory: RSS growth over ${n} model lifecycles (MiB)`, value: worst, goal: 64, op: "<=" }],
  };
}
