#!/usr/bin/env node
// `npm test`: every project's lint and tests through nx, streamed as they run,
// then a summary of how many tests ran in each package, the tests that failed
// (named again at the end, so a log cut to its tail still says which), whether
// the book's own files were tested too, and one closing line with the totals.
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

/** Failed tests as the runners name them: "project: test — first line of its error". */
const failures = [];
/** A vitest FAIL line waiting for the first line of its error. */
let awaiting = null;

function noteFailure(project, text) {
  const t = text.trim();
  if (awaiting && awaiting.project === project && t) {
    if (/^(\w*Error|expected|Expected)\b/.test(t) || /Error:/.test(t)) awaiting.reason = t;
    if (!/^FAIL\b/.test(t) && !/^⎯/.test(t)) awaiting = null;
  }
  let m;
  if ((m = /^FAIL\s+(\S.*\S)\s*$/.exec(t)) && (m[1].includes(" > ") || m[1].endsWith(" ]"))) {
    // vitest: " FAIL  test/x.test.ts > suite > test", or a file that failed as a whole: " FAIL  test/x.test.ts [ test/x.test.ts ]"
    awaiting = { project, name: m[1], reason: "" };
    failures.push(awaiting);
  } else if ((m = /^(?:FAILED|ERROR) (\S+::\S.*)$/.exec(t))) {
    // pytest's short summary: "FAILED tests/test_x.py::test_y - AssertionError: ..."
    failures.push({ project, name: m[1], reason: "" });
  } else if ((m = /^\[ERROR\]\s{2,}(\w[\w$]*\.\w+(?::\d+)?\b.*)$/.exec(t))) {
    // Surefire's results: "[ERROR]   CrfTest.fits:45 expected: <1> but was: <2>"
    failures.push({ project, name: m[1], reason: "" });
  }
}

function scan(raw) {
  const line = plain(raw);
  const m = /^([\w-]+):\s+(.*)$/.exec(line);
  if (!m) return;
  const [, project, text] = m;
  noteFailure(project, text);
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
  const seen = new Set();
  const failed = failures.filter((f) => !seen.has(f.project + f.name) && seen.add(f.project + f.name));
  if (failed.length) {
    console.log("mlbridge: tests that failed (their output is above)");
    for (const f of failed) console.log(`  ${f.project}: ${f.name}${f.reason ? ` — ${f.reason}` : ""}`.slice(0, 400));
  }
  const book = bookDataDir();
  console.log(book ? `mlbridge: the book's own files at ${book} were tested too` : `mlbridge: ${bookSkippedLine()}`);
  console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
