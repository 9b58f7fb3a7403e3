// Core measured in a fresh Node process of its own, as each Python peer is (bench/py/peers.py, and
// the same protocol: one JSON argument, one JSON line out), so that the harness's heap (the data of
// earlier scenarios) does not weigh on core's side only. Commands: wordcount {file, repeats}.
import { readFileSync } from "node:fs";
import { core } from "./lib.mjs";

const commands = {
  wordcount(a) {
    const text = readFileSync(a.file, "utf8");
    core.countWords(text.slice(0, 1e6)); // warm-up (the JIT)
    const seconds = [];
    let counts;
    for (let i = 0; i < a.repeats; i++) {
      const t0 = performance.now();
      counts = core.countWords(text);
      seconds.push((performance.now() - t0) / 1000);
    }
    let total = 0;
    for (const n of counts.values()) total += n;
    return { bytes: Buffer.byteLength(text), seconds, distinct: counts.size, total };
  },
};

const arg = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(commands[arg.cmd](arg)) + "\n");
