// Scenario 12: replicas on a shared S3 store behind nginx. versitygw (the S3-compatible server),
// three `mlbridge serve` processes with `--store s3://…` and nginx as the gRPC balancer, all on this
// machine's 2 cores (so more replicas share the same cores: the numbers show the balancer's and the
// processes' overhead, not scale-out). Single-row Predict req/s through nginx to 1, 2 and 3 replicas
// (ghz c=16, one connection to nginx), and the propagation delay: from the end of an import through
// replica A to the first answer of the new version from replica C (which learns it by polling;
// goal ≤ poll period + 100 ms).
import { IRIS_ROW, clients, fmt, importModel, sleep, startServerProcess, summary, unary } from "../lib.mjs";
import { NGINX, haveVersitygw, startBalancer, startObjectStore } from "../../scripts/lib/scale-out.mjs";
import { load, mlbridgeTarget } from "./s1-predict.mjs";

const POLL_SECONDS = 2;

export default async function s12(ctx) {
  if (ctx.quick) return { results: {}, ratios: [], notes: ["quick mode: skipped (packages/server/test/shared-store.test.ts covers the behaviour)"] };
  if (!haveVersitygw || !NGINX) return { results: {}, ratios: [], notes: ["skipped: versitygw or nginx missing (scripts/setup.sh installs them)"] };
  const s3 = await startObjectStore("bench");
  const servers = [];
  const notes = [`one versitygw, three mlbridge processes (--store s3://bench/models, --store-poll-seconds ${POLL_SECONDS}) and nginx on the same 2 cores`];
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(await startServerProcess({ env: s3.env, extraArgs: ["--store", "s3://bench/models", "--store-poll-seconds", String(POLL_SECONDS)] }));
    }
    const cls = servers.map((s) => clients(s.address));
    await importModel(cls[0], "iris", 2, ctx.iris.json, { classNames: ctx.iris.classNames });
    const req = (modelVersion) => ({ modelName: "iris", input: { $case: "matrix", value: { rows: 1, cols: 4, values: IRIS_ROW } }, output: 0, modelVersion });
    for (const cl of cls) await unary(cl.xgb, "predict", req());
    // Throughput through nginx to the first n replicas.
    const res = {};
    const seconds = 5;
    for (const n of [1, 2, 3]) {
      const lb = await startBalancer(servers.slice(0, n).map((s) => s.address));
      try {
        const t = mlbridgeTarget(lb.address);
        const lbCl = clients(lb.address);
        t.node = () => unary(lbCl.xgb, "predict", req());
        await load(t, { concurrency: 16, seconds: 1.5 });
        const runs = [];
        for (let r = 0; r < ctx.repeats; r++) runs.push(await load(t, { concurrency: 16, seconds }));
        lbCl.close();
        res[`${n} replica${n > 1 ? "s" : ""}`] = {
          rps: summary(runs.map((x) => x.rps)),
          p99_ms: summary(runs.map((x) => x.p99_ms)),
          errors: runs.reduce((a, x) => a + x.errors, 0),
        };
        ctx.log(
          `  s12 nginx → ${n} replica(s): ${fmt(res[`${n} replica${n > 1 ? "s" : ""}`].rps.median, 0)} req/s, p99 ${fmt(res[`${n} replica${n > 1 ? "s" : ""}`].p99_ms.median, 3)} ms`,
        );
      } finally {
        await lb.stop();
      }
    }
    // Direct, for the balancer's cost.
    const direct = mlbridgeTarget(servers[0].address);
    const directRuns = [];
    for (let r = 0; r < ctx.repeats; r++) directRuns.push(await load(direct, { concurrency: 16, seconds }));
    res["1 replica, no balancer"] = { rps: summary(directRuns.map((x) => x.rps)), p99_ms: summary(directRuns.map((x) => x.p99_ms)) };
    // Propagation: a new version through A, first answer of it from C.
    const delays = [];
    for (let k = 0; k < 5; k++) {
      const info = await importModel(cls[0], "iris", 2, ctx.iris.json, { classNames: ctx.iris.classNames });
      const t0 = performance.now();
      const version = info.model.version;
      for (;;) {
        try {
          await unary(cls[2].xgb, "predict", req(version));
          break;
        } catch {
          await sleep(5);
        }
        if (performance.now() - t0 > 10_000) throw new Error(`replica C never served version ${version}`);
      }
      delays.push(performance.now() - t0);
      await sleep(Math.random() * 500); // land at different points of C's poll period
    }
    res.propagation_ms = summary(delays);
    ctx.log(`  s12 propagation A → C (poll ${POLL_SECONDS} s): ${delays.map((d) => fmt(d, 0)).join(", ")} ms`);
    for (const cl of cls) cl.close();
    return {
      results: res,
      notes,
      ratios: [
        { name: "replicas: nginx → 2 replicas / 1 replica (req/s, same 2 cores)", value: res["2 replicas"].rps.median / res["1 replica"].rps.median },
        { name: "replicas: nginx → 3 replicas / 1 replica (req/s, same 2 cores)", value: res["3 replicas"].rps.median / res["1 replica"].rps.median },
        { name: "replicas: nginx → 1 replica / direct (req/s)", value: res["1 replica"].rps.median / res["1 replica, no balancer"].rps.median },
        {
          name: `replicas: propagation A → C, worst of 5 (ms; goal ≤ poll ${POLL_SECONDS * 1000} + 100)`,
          value: Math.max(...delays),
          goal: POLL_SECONDS * 1000 + 100,
          op: "<=",
        },
      ],
    };
  } finally {
    for (const s of servers) await s.stop();
    await s3.close();
  }
}
