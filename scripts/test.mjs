#!/usr/bin/env node
// `npm test`: every project's lint and tests through nx, streamed as they run,
// then a summary of how many tests ran in each package, whether the book's own
// files were tested too, and one closing line with the totals.
// Arguments go to `nx run-many` (e.g. --projects core,server).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bookDataDir, bookSkippedLine } from "./lib/test-data.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nx = path.join(root, "node_modules", ".bin", "nx");
const child = spawn(nx, ["run-many", "-t", "lint", "test", "--outputStyle=stream", ...process.argv.slice(2)], {
  cwd: root,
  stdio: ["inherit", "pipe", "inherit"],
});

/** Per project: the last summary its test runner printed. */
const counts = new Map();
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes of the runners' output
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
const num = (line, word) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);

function scan(raw) {
  const line = plain(raw);
  const m = /^([\w-]+):\s+(.*)$/.exec(line);
  if (!m) return;
  const [, project, text] = m;
  let c;
  if (/^Tests\s+\d/.test(text.trim())) {
    // vitest: "Tests  3 failed | 120 passed | 2 skipped (125)"
    c = { passed: num(text, "passed"), failed: num(text, "failed"), skipped: num(text, "skipped") };
  } else if (/^=+ .*\b(passed|failed|error|errors|skipped)\b.* in [\d.]+s/.test(text)) {
    // pytest: "==== 98 passed, 2 skipped in 7.20s ===="
    c = { passed: num(text, "passed"), failed: num(text, "failed") + num(text, "errors?"), skipped: num(text, "skipped") };
  } else if (/Tests run: \d+, Failures: \d+, Errors: \d+, Skipped: \d+\s*$/.test(text) && !text.includes(" -- in ")) {
    // Maven Surefire's total: "Tests run: 32, Failures: 0, Errors: 0, Skipped: 3"
    const [run, failures, errors, skipped] = /Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)/.exec(text).slice(1).map(Number);
    c = { passed: run - failures - errors - skipped, failed: failures + errors, skipped };
  }
  if (c) counts.set(project, c);
}

let pending = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString();
  const lines = pending.split("\n");
  pending = lines.pop();
  lines.forEach(scan);
});

child.on("exit", (code, signal) => {
  if (pending) scan(pending);
  const total = { passed: 0, failed: 0, skipped: 0 };
  console.log("\nmlbridge: tests run per package");
  for (const [project, c] of [...counts].sort()) {
    console.log(`  ${project.padEnd(14)} ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    for (const k of Object.keys(total)) total[k] += c[k];
  }
  const book = bookDataDir();
  console.log(book ? `mlbridge: the book's own files at ${book} were tested too` : `mlbridge: ${bookSkippedLine()}`);
  console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
