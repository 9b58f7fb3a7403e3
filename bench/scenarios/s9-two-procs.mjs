// Scenario 9: both cores. grpc-js has no SO_REUSEPORT sharing between processes, so "two servers"
// means two independent `mlbridge serve` processes on two ports, each loaded by its own ghz (c=32);
// the baseline is one server loaded by the same two ghz processes (c=32 each) on the same port, so the
// load generators cost the same in both cases. Throughput = sum of both ghz req/s.
import { summary, fmt, haveGhz } from "../lib.mjs";
import { mlbridgeWithIris, load } from "./s1-predict.mjs";

export default async function s9(ctx) {
  const seconds = ctx.quick ? 1 : 5;
  const a = await mlbridgeWithIris(ctx),
    b = await mlbridgeWithIris(ctx);
  const one = [],
    two = [];
  try {
    const run = async (ta, tb) => {
      const [x, y] = await Promise.all([load(ta, { concurrency: 32, seconds }), load(tb, { concurrency: 32, seconds })]);
      return x.rps + y.rps;
    };
    await run(a.target, b.target);
    await run(a.target, a.target); // warm-up both
    for (let i = 0; i < ctx.repeats; i++) {
      one.push(await run(a.target, a.target));
      two.push(await run(a.target, b.target));
    }
  } finally {
    await a.stop();
    await b.stop();
  }
  const results = { "1 server process": { rps: summary(one) }, "2 server processes (2 ports)": { rps: summary(two) } };
  for (const [k, v] of Object.entries(results)) ctx.log(`  s9 ${k}: ${fmt(v.rps.median, 0)} req/s (±${fmt(v.rps.spreadPct, 1)}%)`);
  const notes = [
    `two ghz processes at concurrency 32 each (${haveGhz() ? "ghz" : "Node loop, in the harness process"}), ${seconds} s; on a 2-core machine the load generators share the cores with the servers`,
  ];
  return {
    results,
    notes,
    ratios: [{ name: "2 server processes / 1 (req/s, c=2×32)", value: summary(two).median / summary(one).median, goal: null, op: "info" }],
  };
}
