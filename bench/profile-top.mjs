#!/usr/bin/env node
// Prints the top self-time frames (and top "by file" buckets) of a V8 .cpuprofile.
// Usage: node bench/profile-top.mjs bench/results/s1-server.cpuprofile [N]
import { readFileSync } from "node:fs";
const [file, n = "20"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const self = new Map(); // node id -> sample count
for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
const total = p.samples.length;
const byFrame = new Map(),
  byFile = new Map();
for (const node of p.nodes) {
  const c = self.get(node.id) ?? 0;
  if (!c) continue;
  const cf = node.callFrame;
  const url = cf.url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\//, "nm:")
    .replace(/.*\/packages\//, "pkg:");
  const key = `${cf.functionName || "(anonymous)"} ${url ? `${url}:${cf.lineNumber + 1}` : ""}`.trim();
  byFrame.set(key, (byFrame.get(key) ?? 0) + c);
  const bucket = !url
    ? cf.functionName
    : url.startsWith("nm:")
      ? url
          .split("/")
          .slice(0, url.startsWith("nm:@") ? 2 : 1)
          .join("/")
      : url.startsWith("node:")
        ? "node internals"
        : url;
  byFile.set(bucket, (byFile.get(bucket) ?? 0) + c);
}
const busy = total - (byFrame.get("(idle)") ?? 0);
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
console.log(`${total} samples, ${busy} not idle; columns: % of all samples, % of non-idle samples`);
console.log("top self-time frames:");
for (const [k, c] of top(byFrame))
  console.log(`  ${((100 * c) / total).toFixed(1).padStart(5)} %  ${k === "(idle)" ? "     " : ((100 * c) / busy).toFixed(1).padStart(5) + " %"}  ${k}`);
console.log("self time by module:");
for (const [k, c] of top(byFile))
  console.log(`  ${((100 * c) / total).toFixed(1).padStart(5)} %  ${k === "(idle)" ? "     " : ((100 * c) / busy).toFixed(1).padStart(5) + " %"}  ${k}`);
