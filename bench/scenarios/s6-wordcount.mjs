// Scenario 6: word count MB/s over a generated text (words of ner_large.csv, one sentence a line,
// repeated to the size): core countWords in-process (in a fresh Node process per count, as the Python
// peer runs: bench/core-peer.mjs), TextService/CountWordsStream (1 MiB chunks), Python
// Counter(re.findall(r"\w+", text)).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { core, DATA, clients, startServerProcess, runCore, runPython, pythonBin, summary, fmt } from "../lib.mjs";

export default async function s6(ctx) {
  const MB = ctx.quick ? 2 : 100;
  const rows = await core.readCsv(path.join(DATA, "gmb/ner_large.csv"));
  const header = rows.header ?? rows.columns;
  let base;
  if (header && rows.rows) {
    const w = header.indexOf("word"),
      s = header.indexOf("sentence_idx");
    const lines = [];
    let cur = [],
      last;
    for (const r of rows.rows) {
      if (r[s] !== last && cur.length) {
        lines.push(cur.join(" "));
        cur = [];
      }
      last = r[s];
      cur.push(r[w]);
    }
    lines.push(cur.join(" "));
    base = lines.join("\n") + "\n";
  } else throw new Error("unexpected readCsv shape: " + Object.keys(rows));
  const target = MB * 1e6;
  let text = base.repeat(Math.ceil(target / Buffer.byteLength(base)));
  text = text.slice(0, target); // ASCII-dominated; MB below = bytes/1e6 of the actual UTF-8
  const bytes = Buffer.from(text, "utf8");
  const file = path.join(ctx.work, "words.txt");
  writeFileSync(file, bytes);
  const mbs = (s) => bytes.length / 1e6 / s;
  // core and Python take turns, one count each, so that load from elsewhere on the machine
  // weighs on both alike (the ratio is of medians measured side by side). Each count runs in a
  // fresh process: in the harness's own process, core's count slowed from ~90 to ~58 MB/s after
  // the earlier scenarios of a full run (their data stays on the heap the collector walks).
  const inproc = [],
    pySeconds = [];
  let words, py;
  const python = pythonBin();
  for (let i = 0; i < ctx.repeats; i++) {
    const c = await runCore({ cmd: "wordcount", file, repeats: 1 });
    inproc.push(mbs(c.seconds[0]));
    words = c.total;
    if (python) {
      py = await runPython("peers.py", { cmd: "wordcount", file, repeats: 1 });
      pySeconds.push(py.seconds[0]);
    }
  }
  const srv = await startServerProcess({ env: ctx.serverEnv ?? {} });
  const cl = clients(srv.address);
  const stream = [];
  let streamWords;
  try {
    const once = () =>
      new Promise((res, rej) => {
        const call = cl.text.countWordsStream((e, r) => (e ? rej(e) : res(r)));
        for (let i = 0; i < bytes.length; i += 1 << 20) call.write({ chunk: bytes.subarray(i, i + (1 << 20)) });
        call.end();
      });
    for (let i = 0; i < ctx.repeats; i++) {
      const t0 = performance.now();
      const r = await once();
      stream.push(mbs((performance.now() - t0) / 1000));
      streamWords = Number(r.totalWords);
    }
  } finally {
    cl.close();
    await srv.stop();
  }
  const results = {
    "core countWords in-process": { MB_per_s: summary(inproc), words },
    "mlbridge TextService/CountWordsStream": { MB_per_s: summary(stream), words: streamWords },
  };
  const ratios = [],
    notes = [
      `${(bytes.length / 1e6).toFixed(1)} MB of text, ${words} words; core in-process and Python take turns, one count each, each in a fresh process of its own (reading the file is not timed)`,
    ];
  if (python) {
    results['Python Counter(re.findall(r"\\w+"))'] = { MB_per_s: summary(pySeconds.map((s) => py.bytes / 1e6 / s)), words: py.total };
    if (py.total !== words) notes.push(`word totals differ: core ${words}, Python ${py.total}`);
    const pm = results['Python Counter(re.findall(r"\\w+"))'].MB_per_s.median;
    ratios.push({ name: "word count: core in-process / Python Counter (MB/s)", value: summary(inproc).median / pm, goal: 3, op: ">=" });
    ratios.push({ name: "word count: CountWordsStream / Python Counter (MB/s)", value: summary(stream).median / pm, goal: null, op: "info" });
  } else notes.push("Python skipped: no venv");
  for (const [k, v] of Object.entries(results)) ctx.log(`  s6 ${k}: ${fmt(v.MB_per_s.median, 1)} MB/s (±${fmt(v.MB_per_s.spreadPct, 1)}%)`);
  return { results, ratios, notes };
}
