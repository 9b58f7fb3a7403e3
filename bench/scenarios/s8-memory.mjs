// Scenario 8: server RSS (VmRSS of the server process) after 10,000 single-row predictions vs after
// N (default 1,000,000 in full mode unless --mem-n, 20,000 in quick mode), ghz at concurrency 16.
import { rssKiB, fmt, sleep } from "../lib.mjs";
import { mlbridgeWithIris, load } from "./s1-predict.mjs";
import { haveGhz, runGhzAsync, nodeLoad } from "../lib.mjs";

export default async function s8(ctx) {
  const N = ctx.memN ?? (ctx.quick ? 20_000 : 1_000_000);
  const mb = await mlbridgeWithIris(ctx);
  const run = async (n) => {
    if (haveGhz()) return runGhzAsync(mb.target, { concurrency: 16, total: n });
    let left = n; // Node fallback: closed loop of exactly n calls
    await Promise.all(Array.from({ length: 16 }, async () => { while (left-- > 0) await mb.target.node(); }));
    return { count: n };
  };
  const results = {};
  try {
    const rss0 = rssKiB(mb.srv.pid);
    // checkpoints: RSS 1 s after reaching each total (shows whether growth levels off)
    const marks = [10_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000].filter((m) => m < N).concat([N]);
    const table = [{ predictions: 0, "RSS MiB": +(rss0 / 1024).toFixed(1), "load s": 0 }];
    let done = 0;
    const t0 = performance.now();
    for (const m of marks) {
      await run(m - done); done = m;
      await sleep(1000);
      table.push({ predictions: m.toLocaleString("en-US"), "RSS MiB": +(rssKiB(mb.srv.pid) / 1024).toFixed(1), "load s": +((performance.now() - t0) / 1000 - table.length + 1).toFixed(0) });
    }
    const rss10k = table[1]["RSS MiB"], rssN = table[table.length - 1]["RSS MiB"];
    results.rss = { startMiB: table[0]["RSS MiB"], after10kMiB: rss10k, afterNMiB: rssN, predictions: N };
    ctx.log(`  s8 RSS MiB by predictions: ${table.map((r) => `${r.predictions}: ${r["RSS MiB"]}`).join(", ")}`);
    return {
      results, table, notes: [`RSS (VmRSS from /proc/<pid>/status) 1 s after each checkpoint; ghz concurrency 16; ${N.toLocaleString("en-US")} predictions in total${N < 1_000_000 ? " (scaled down from 1,000,000)" : ""}`],
      ratios: [{ name: `memory: RSS growth 10k → ${N >= 1e6 ? N / 1e6 + "M" : N / 1e3 + "k"} predictions (%)`, value: (100 * (rssN - rss10k)) / rss10k, goal: 5, op: "<=" }],
    };
  } finally { await mb.stop(); }
}
void load, nodeLoad;
