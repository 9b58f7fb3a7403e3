// Scenario 7: responsiveness under training. p99 of XgboostService/Predict (1 row) and of
// grpc.health.v1.Health/Check, each from its own ghz at concurrency 1 and a fixed 200 req/s
// (open loop, so the latency is not hidden by a slower request rate), first idle, then while two
// CRF trainings (lbfgs on ner_large.csv, the server's default max of 2) run through CrfService/Train.
import { readFileSync } from "node:fs";
import path from "node:path";
import { DATA, clients, haveGhz, summary, fmt, unary, sleep, require } from "../lib.mjs";
import { mlbridgeWithIris, load } from "./s1-predict.mjs";

export default async function s7(ctx) {
  const seconds = ctx.quick ? 2 : 10;
  const csv = readFileSync(path.join(DATA, ctx.quick ? "book/ner.csv" : "gmb/ner_large.csv"));
  const mb = await mlbridgeWithIris(ctx);
  const healthT = {
    address: mb.srv.address,
    call: "grpc.health.v1.Health/Check",
    proto: require("grpc-health-check").protoPath,
    importPaths: [path.dirname(require("grpc-health-check").protoPath)],
    data: { service: "" },
  };
  const notes = [`each probe: concurrency 1, ${haveGhz() ? "200 req/s (ghz --rps)" : "closed loop (Node client; no ghz)"}, ${seconds} s`];
  if (!haveGhz()) {
    // Node fallback for the health probe: a raw unary call through the generic client
    const { grpc } = await import("../lib.mjs");
    const HealthClient = grpc.makeGenericClientConstructor(
      {
        check: {
          path: "/grpc.health.v1.Health/Check",
          requestStream: false,
          responseStream: false,
          requestSerialize: () => Buffer.alloc(0),
          requestDeserialize: (b) => b,
          responseSerialize: (b) => b,
          responseDeserialize: (b) => b,
        },
      },
      "Health",
    );
    const hc = new HealthClient(mb.srv.address, grpc.credentials.createInsecure());
    healthT.node = () => unary(hc, "check", {});
  }
  const probe = () => Promise.all([load(mb.target, { concurrency: 1, seconds, rps: 200 }), load(healthT, { concurrency: 1, seconds, rps: 200 })]);
  const results = {};
  const trainings = [];
  // One pair of trainings per busy probe: a training stops by itself (lbfgs on ner_large ends with
  // LBFGSERR_ROUNDING_ERROR after ~460 iterations, ~25 s), so a pair started once did not outlast three
  // 10 s probes. Each pair is started, awaited until both iterate, probed once, then cancelled.
  // Each training from a connection of its own: one connection gets one
  // training slot fewer than the server has (--max-trainings-per-connection).
  const trainers = [0, 1].map(() => clients(mb.srv.address, { "grpc.use_local_subchannel_pool": 1 }));
  const startTraining = (k) => {
    const call = trainers[k].crf.train();
    const t = { call, iters: 0, ended: false, error: undefined };
    t.done = new Promise((res) => {
      call.on("data", (d) => {
        if (d.event?.$case === "progress") t.iters = d.event.value.iteration;
      });
      call.on("error", (e) => {
        t.ended = true;
        t.error = e;
        res();
      });
      call.on("end", () => {
        t.ended = true;
        res();
      });
    });
    call.write({
      payload: {
        $case: "header",
        value: {
          modelName: `busy${k}`,
          algorithm: 1,
          parameters: { max_iterations: "100000", epsilon: "0", delta: "0" },
          featurePreset: "book",
          seed: 0,
          noHoldout: true,
          failIfExists: false,
        },
      },
    });
    for (let i = 0; i < csv.length; i += 1 << 20) call.write({ payload: { $case: "csvChunk", value: csv.subarray(i, i + (1 << 20)) } });
    call.end();
    trainings.push(t);
    return t;
  };
  const startPair = async () => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const pair = [0, 1].map(startTraining);
      const t0 = Date.now();
      while (pair.some((c) => c.iters < 1 && !c.ended) && Date.now() - t0 < 60000) await sleep(100);
      if (pair.every((c) => c.iters >= 1 && !c.ended)) return pair;
      await stopPair(pair); // a slot of the previous pair not yet released (RESOURCE_EXHAUSTED): retry
      await sleep(200);
    }
    throw new Error("s7: could not get two trainings running");
  };
  const stopPair = async (pair) => {
    for (const c of pair) c.call.cancel();
    await Promise.all(pair.map((c) => c.done));
  };
  try {
    await probe(); // warm-up (also idle baseline)
    const idle = [],
      busy = [],
      during = [];
    for (let i = 0; i < ctx.repeats; i++) idle.push(await probe());
    for (let i = 0; i < ctx.repeats; i++) {
      const pair = await startPair();
      const before = pair.map((c) => c.iters);
      busy.push(await probe());
      during.push({ iterations: pair.map((c, j) => `${before[j]}→${c.iters}`), bothRan: pair.every((c) => !c.ended) });
      await stopPair(pair);
    }
    const allRan = during.every((d) => d.bothRan);
    notes.push(
      `each busy probe ran beside its own pair of trainings, iterations ${during.map((d) => d.iterations.join(" and ")).join("; ")}${allRan ? "; both trainings ran through every probe" : " (a training ended during a probe!)"}`,
    );
    for (const [label, runs] of [
      ["idle", idle],
      ["2 trainings", busy],
    ]) {
      results[`Predict, ${label}`] = {
        p50_ms: summary(runs.map((r) => r[0].p50_ms)),
        p99_ms: summary(runs.map((r) => r[0].p99_ms)),
        rps: summary(runs.map((r) => r[0].rps)),
      };
      results[`Health/Check, ${label}`] = {
        p50_ms: summary(runs.map((r) => r[1].p50_ms)),
        p99_ms: summary(runs.map((r) => r[1].p99_ms)),
        rps: summary(runs.map((r) => r[1].rps)),
      };
    }
  } finally {
    for (const c of trainings) c.call.cancel();
    await Promise.all(trainings.map((c) => c.done));
    for (const t of trainers) t.close();
    await mb.stop();
  }
  for (const [k, v] of Object.entries(results))
    ctx.log(`  s7 ${k}: p50 ${fmt(v.p50_ms.median, 3)} ms, p99 ${fmt(v.p99_ms.median, 3)} ms (±${fmt(v.p99_ms.spreadPct, 1)}%), ${fmt(v.rps.median, 0)} req/s`);
  const ratios = [
    { name: "p99 Predict (ms) during 2 CRF trainings", value: results["Predict, 2 trainings"].p99_ms.median, goal: 5, op: "<=" },
    { name: "p99 Health/Check (ms) during 2 CRF trainings", value: results["Health/Check, 2 trainings"].p99_ms.median, goal: 5, op: "<=" },
  ];
  return { results, ratios, notes };
}
