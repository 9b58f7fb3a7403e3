#!/usr/bin/env node
// Benchmark orchestrator. Sets up the peers (bench/setup.sh), runs the scenarios, writes
// bench/results/latest.{json,md} and latest.svg (ratios vs goals).
// Usage: node bench/run.mjs [--quick] [--only 1,3,...] [--repeats N] [--no-setup] [--mem-n N]
//   --quick: tiny sizes, 1 repeat, no MLServer, no setup (add --setup to run it); uses ghz and the
//            Python venv when already installed, else the Node client loop / skips the Python peers.
//   --merge (with --only): replace just those scenarios in the existing results/<out>.json and rewrite
//            the Markdown and SVG from it (each scenario keeps its own ranAt and load averages).
//   --server-env K=V (repeatable): environment of the mlbridge server processes (diagnostics, e.g.
//            OMP_NUM_THREADS=1); recorded in the results.
//   --render: only rewrite results/<out>.md and .svg from results/<out>.json.
//   BENCH_NO_GHZ=1 forces the Node client loop; BENCH_NO_PYTHON=1 skips the Python peers.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH, PEERS, core, fmt, loadavg, tmpdir, irisModel, haveGhz, pythonBin } from "./lib.mjs";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    setup: { type: "boolean" },
    only: { type: "string" },
    repeats: { type: "string" },
    "no-setup": { type: "boolean" },
    "mem-n": { type: "string" },
    out: { type: "string" },
    merge: { type: "boolean" },
    render: { type: "boolean" },
    "server-env": { type: "string", multiple: true },
  },
});
const quick = !!values.quick;
if (values.render) {
  const stem = values.out ?? (quick ? "quick" : "latest");
  const o = JSON.parse(readFileSync(path.join(BENCH, "results", `${stem}.json`), "utf8"));
  writeFileSync(path.join(BENCH, "results", `${stem}.md`), markdown(o));
  writeFileSync(path.join(BENCH, "results", `${stem}.svg`), svg(o));
  process.exit(0);
}
const only = values.only ? new Set(values.only.split(",").map(Number)) : undefined;
const log = (...a) => console.log(...a);
const SCENARIOS = [
  [1, "Single-row predict throughput (ghz c=1/16/64)", "s1-predict.mjs"],
  [2, "Book's way (load from disk + predict) vs cached model", "s2-load.mjs"],
  [3, "Batch predict, chunked, vs xgboost inplace_predict", "s3-batch.mjs"],
  [4, "CRF training vs python-crfsuite (same split, features, lbfgs)", "s4-crf-train.mjs"],
  [5, "CRF tagging: TagStream vs python-crfsuite tagger", "s5-crf-tag.mjs"],
  [6, "Word count vs Python Counter(re.findall)", "s6-wordcount.mjs"],
  [7, "Responsiveness while two CRF trainings run", "s7-responsive.mjs"],
  [8, "Server memory growth over many predictions", "s8-memory.mjs"],
  [9, "Both cores: two server processes vs one", "s9-two-procs.mjs"],
  [10, "V2 REST single-row infer vs MLServer REST and our gRPC (wrk c=1/16/64)", "s10-rest.mjs"],
  [11, "Native memory over 1,000 model lifecycles (train, predict, save, load, dispose)", "s11-native-cycles.mjs"],
  [12, "Replicas on a shared S3 store behind nginx: req/s to 1/2/3 replicas, propagation delay", "s12-replicas.mjs"],
];

// --quick (the CI smoke test) installs nothing: it uses ghz / the Python venv only if already there.
if (!values["no-setup"] && (!quick || values.setup)) {
  try {
    execFileSync("bash", [path.join(BENCH, "setup.sh"), ...(quick ? ["--quick"] : [])], { stdio: "inherit" });
  } catch (e) {
    log(`setup failed (${e.message}); continuing with what is installed`);
  }
}
const resultsDir = path.join(BENCH, "results");
mkdirSync(resultsDir, { recursive: true });
const peerStatus = existsSync(path.join(PEERS, "status.json")) ? JSON.parse(readFileSync(path.join(PEERS, "status.json"), "utf8")) : {};
const work = tmpdir();
const ctx = {
  quick,
  repeats: Number(values.repeats ?? (quick ? 1 : 3)),
  log,
  work,
  peerStatus,
  memN: values["mem-n"] ? Number(values["mem-n"]) : undefined,
  serverEnv: Object.fromEntries((values["server-env"] ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
};
ctx.iris = await irisModel(work);

const started = new Date().toISOString();
const out = {
  started,
  mode: quick ? "quick" : "full",
  repeats: ctx.repeats,
  serverEnv: ctx.serverEnv,
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    xgboostBound: core.xgboostVersion(),
    loadavgStart: loadavg(),
  },
  peers: { ghz: haveGhz(), python: pythonBin() ?? null, ...peerStatus },
  scenarios: [],
};
let failed = 0;
for (const [id, title, file] of SCENARIOS) {
  if (only && !only.has(id)) continue;
  log(`\n== scenario ${id}: ${title}  (load ${loadavg().join(" ")})`);
  const load0 = loadavg();
  const t0 = performance.now();
  let r;
  try {
    const mod = await import(path.join(BENCH, "scenarios", file));
    r = await mod.default(ctx);
  } catch (e) {
    failed++;
    r = { error: String(e.stack ?? e), ratios: [], notes: [] };
    log(`  scenario ${id} FAILED: ${e.stack ?? e}`);
  }
  for (const q of r.ratios) q.met = q.goal == null || q.value == null || Number.isNaN(q.value) ? null : q.op === ">=" ? q.value >= q.goal : q.value <= q.goal;
  const entry = {
    id,
    title,
    ranAt: new Date().toISOString(),
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    loadavgBefore: load0,
    loadavgAfter: loadavg(),
    ...r,
  };
  out.scenarios.push(entry);
  for (const n of r.notes ?? []) log(`  note: ${n}`);
  // the ratio line(s), last
  log(
    `  RATIO s${id}: ${r.ratios.length ? r.ratios.map((q) => `${q.name} = ${fmt(q.value, 3)} (${q.goal == null ? "no goal" : `goal ${q.op} ${q.goal}: ${q.met == null ? "n/a" : q.met ? "met" : "MISSED"}`})`).join("; ") : "none (" + (r.error ? "failed" : "no peer") + ")"}`,
  );
}
out.finished = new Date().toISOString();
out.machine.loadavgEnd = loadavg();

const stem = values.out ?? (quick ? "quick" : "latest");
if (values.merge && existsSync(path.join(resultsDir, `${stem}.json`))) {
  const old = JSON.parse(readFileSync(path.join(resultsDir, `${stem}.json`), "utf8"));
  const ids = new Set(out.scenarios.map((s) => s.id));
  out.scenarios = [...old.scenarios.filter((s) => !ids.has(s.id)), ...out.scenarios].sort((a, b) => a.id - b.id);
  out.merged = [...(old.merged ?? [{ started: old.started, ids: old.scenarios.map((s) => s.id) }]), { started, ids: [...ids] }];
  out.started = old.started;
  out.machine.loadavgStart = old.machine.loadavgStart;
}
writeFileSync(path.join(resultsDir, `${stem}.json`), JSON.stringify(out, null, 2) + "\n");
writeFileSync(path.join(resultsDir, `${stem}.md`), markdown(out));
writeFileSync(path.join(resultsDir, `${stem}.svg`), svg(out));
log(`\nwrote bench/results/${stem}.json, ${stem}.md, ${stem}.svg`);
process.exit(failed ? 1 : 0);

function markdown(o) {
  const L = [
    `# mlbridge benchmark (${o.mode}, ${o.started})`,
    "",
    `Machine: ${o.machine.cpus} × ${o.machine.cpuModel}, ${o.machine.memGiB} GiB, Node ${o.machine.node}, XGBoost (addon) ${o.machine.xgboostBound}. Load average at start ${o.machine.loadavgStart.join(" ")}, at end ${o.machine.loadavgEnd.join(" ")}. Repeats: ${o.repeats} (median; spread = half the min–max range relative to the median).${o.merged ? ` Merged runs: ${o.merged.map((m) => `${m.started} (scenarios ${m.ids.join(",")})`).join("; ")}.` : ""}`,
    "",
    "| # | ratio | value | goal | met |",
    "|---|---|---|---|---|",
  ];
  for (const s of o.scenarios) {
    if (!s.ratios.length) L.push(`| ${s.id} | ${s.title}: ${s.error ? "FAILED" : "no ratio"} | | | |`);
    for (const q of s.ratios)
      L.push(
        `| ${s.id} | ${q.name} | ${fmt(q.value, 3)} | ${q.goal == null ? "—" : `${q.op} ${q.goal}`} | ${q.met == null ? "—" : q.met ? "yes" : "**no**"} |`,
      );
  }
  L.push("", "## Details", "");
  for (const s of o.scenarios) {
    L.push(`### ${s.id}. ${s.title}`, "", `${s.seconds} s, load average before ${s.loadavgBefore.join(" ")}, after ${s.loadavgAfter.join(" ")}.`, "");
    if (s.error) L.push("```", s.error.split("\n").slice(0, 5).join("\n"), "```", "");
    if (s.table?.length) {
      const cols = Object.keys(s.table[0]);
      L.push(`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`);
      for (const row of s.table) L.push(`| ${cols.map((c) => row[c]).join(" | ")} |`);
      L.push("");
    } else if (s.results) {
      L.push("| measurement | median | spread | detail |", "|---|---|---|---|");
      for (const [k, v] of Object.entries(s.results)) {
        for (const [m, x] of Object.entries(v))
          if (x && typeof x === "object" && "median" in x) L.push(`| ${k} ${m} | ${fmt(x.median, 3)} | ±${fmt(x.spreadPct, 1)}% | n=${x.n} |`);
      }
      L.push("");
    }
    for (const n of s.notes ?? []) L.push(`- ${n}`);
    L.push("");
  }
  return L.join("\n") + "\n";
}

function svg(o) {
  const rows = o.scenarios.flatMap((s) => s.ratios.filter((q) => q.value != null && !Number.isNaN(q.value)).map((q) => ({ ...q, id: s.id })));
  const W = 900,
    rowH = 22,
    top = 40,
    left = 420,
    plotW = 420;
  const H = top + rows.length * rowH + 40;
  // log scale from 0.01 to 100
  const x = (v) => left + ((Math.log10(Math.min(Math.max(v, 0.01), 100)) + 2) / 4) * plotW;
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const p = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">mlbridge benchmark ratios (${o.mode}, ${o.started.slice(0, 16)}; log scale; | = goal)</text>`,
  ];
  for (const t of [0.01, 0.1, 1, 10, 100])
    p.push(`<line x1="${x(t)}" y1="${top - 5}" x2="${x(t)}" y2="${H - 30}" stroke="#ddd"/><text x="${x(t)}" y="${H - 15}" text-anchor="middle">${t}</text>`);
  rows.forEach((q, i) => {
    const y = top + i * rowH;
    const color = q.goal == null ? "#7a8ca3" : q.met ? "#2a9d4b" : "#d1495b";
    p.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(`${q.id}. ${q.name}`.slice(0, 64))}</text>`);
    p.push(`<rect x="${x(0.01)}" y="${y + 3}" width="${Math.max(1, x(q.value) - x(0.01))}" height="${rowH - 8}" fill="${color}"/>`);
    if (q.goal != null) p.push(`<line x1="${x(q.goal)}" y1="${y}" x2="${x(q.goal)}" y2="${y + rowH - 2}" stroke="black" stroke-width="2"/>`);
    p.push(`<text x="${Math.min(x(q.value), left + plotW) + 4}" y="${y + 14}">${fmt(q.value, 3)}</text>`);
  });
  p.push("</svg>");
  return p.join("\n") + "\n";
}
