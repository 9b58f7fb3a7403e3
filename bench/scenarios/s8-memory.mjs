// Scenario 8: server RSS (VmRSS of the server process) after 10,000 single-row predictions vs after
// N (default 1,000,000 in full mode unless --mem-n, 20,000 in quick mode), ghz at concurrency 16.
// The server runs with V8's own heap sizing (the server sets no V8 flags), then again with the heap
// flags docs/configuration.md offers for flat memory (HEAP_FLAGS, given to node at start). The empty
// grpc-js handler (scenario 1's transport ceiling) runs the same schedule, so that the growth of the
// transport alone (grpc-js + Node's HTTP/2 under V8's heap sizing) is measured beside ours.
import path from "node:path";
import { BENCH, IRIS_ROW, clients, unary, rssKiB, fmt, sleep, startNodeScript } from "../lib.mjs";
import { mlbridgeWithIris, mlbridgeTarget } from "./s1-predict.mjs";
import { haveGhz, runGhzAsync } from "../lib.mjs";

async function schedule(target, pid, N, node) {
  const run = async (n) => {
    if (haveGhz()) return runGhzAsync(target, { concurrency: 16, total: n });
    let left = n; // Node fallback: closed loop of exactly n calls
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await node();
      }),
    );
    return { count: n };
  };
  // checkpoints: RSS 1 s after reaching each total (shows whether growth levels off)
  const marks = [10_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000].filter((m) => m < N).concat([N]);
  const rows = [{ n: 0, mib: rssKiB(pid) / 1024 }];
  let done = 0;
  for (const m of marks) {
    await run(m - done);
    done = m;
    await sleep(1000);
    rows.push({ n: m, mib: rssKiB(pid) / 1024 });
  }
  return rows;
}

/** The node flags docs/configuration.md gives for flat memory under steady load. */
export const HEAP_FLAGS = ["--heap-growing-percent=10", "--semi-space-growth-factor=64"];

export default async function s8(ctx) {
  const N = ctx.memN ?? (ctx.quick ? 20_000 : 1_000_000);
  const mb = await mlbridgeWithIris(ctx);
  let ours;
  try {
    ours = await schedule(mb.target, mb.srv.pid, N, mb.target.node);
  } finally {
    await mb.stop();
  }
  const flat = await mlbridgeWithIris(ctx, { nodeArgs: HEAP_FLAGS });
  let flagged;
  try {
    flagged = await schedule(flat.target, flat.srv.pid, N, flat.target.node);
  } finally {
    await flat.stop();
  }
  const empty = await startNodeScript(path.join(BENCH, "empty-server.mjs"), [JSON.stringify(mb.first)]);
  const emptyCl = clients(empty.address);
  let theirs;
  try {
    theirs = await schedule(mlbridgeTarget(empty.address), empty.pid, N, () =>
      unary(emptyCl.xgb, "predict", { modelName: "iris", input: { $case: "matrix", value: { rows: 1, cols: 4, values: IRIS_ROW } }, output: 0 }),
    );
  } finally {
    emptyCl.close();
    await empty.stop();
  }
  const growth = (rows) => (100 * (rows[rows.length - 1].mib - rows[1].mib)) / rows[1].mib;
  const table = ours.map((r, i) => ({
    predictions: r.n.toLocaleString("en-US"),
    "mlbridge RSS MiB": +r.mib.toFixed(1),
    "mlbridge with heap flags RSS MiB": +flagged[i].mib.toFixed(1),
    "grpc-js empty RSS MiB": +theirs[i].mib.toFixed(1),
  }));
  const results = {
    rss: { startMiB: +ours[0].mib.toFixed(1), after10kMiB: +ours[1].mib.toFixed(1), afterNMiB: +ours[ours.length - 1].mib.toFixed(1), predictions: N },
    flagsRss: {
      flags: HEAP_FLAGS.join(" "),
      startMiB: +flagged[0].mib.toFixed(1),
      after10kMiB: +flagged[1].mib.toFixed(1),
      afterNMiB: +flagged[flagged.length - 1].mib.toFixed(1),
    },
    emptyRss: { startMiB: +theirs[0].mib.toFixed(1), after10kMiB: +theirs[1].mib.toFixed(1), afterNMiB: +theirs[theirs.length - 1].mib.toFixed(1) },
  };
  ctx.log(
    `  s8 RSS MiB by predictions (mlbridge | with ${HEAP_FLAGS.join(" ")} | empty): ${table.map((r) => `${r.predictions}: ${r["mlbridge RSS MiB"]} | ${r["mlbridge with heap flags RSS MiB"]} | ${r["grpc-js empty RSS MiB"]}`).join(", ")}`,
  );
  const label = N >= 1e6 ? N / 1e6 + "M" : N / 1e3 + "k";
  return {
    results,
    table,
    notes: [
      `RSS (VmRSS from /proc/<pid>/status) 1 s after each checkpoint; ghz concurrency 16; ${N.toLocaleString("en-US")} predictions in total${N < 1_000_000 ? " (scaled down from 1,000,000)" : ""}`,
      `then a server started with node ${HEAP_FLAGS.join(" ")} (docs/configuration.md: flat memory), informational`,
      "the empty grpc-js handler runs the same schedule afterwards (informational: the transport's own growth)",
    ],
    ratios: [
      { name: `memory: RSS growth 10k → ${label} predictions (%)`, value: growth(ours), goal: 5, op: "<=" },
      { name: `memory: RSS growth 10k → ${label}, node ${HEAP_FLAGS.join(" ")} (%)`, value: growth(flagged), goal: null, op: "info" },
      { name: `memory: grpc-js empty handler RSS growth 10k → ${label} (%)`, value: growth(theirs), goal: null, op: "info" },
    ],
  };
}
void fmt;
