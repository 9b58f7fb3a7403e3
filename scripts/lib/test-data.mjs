// Where the tests' data is, for every Node test runner (vitest in core and
// server, bench's smoke checks). Two kinds:
//   - the project's own data (build/test-data), made by make-test-data.mjs from
//     what the repository ships: always there, so a plain clone tests fully;
//   - the book's own files (../shared/data beside the checkout, or
//     $MLBRIDGE_SHARED/data): optional; the tests that reproduce the book's
//     numbers run in addition when they are there.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let made = false;

/** The project's test data folder, made (or brought up to date) on first use; about 1.5 s the first time, instant after. */
export function testDataDir() {
  const dir = path.join(repoRoot, "build", "test-data");
  if (!made) {
    execFileSync(process.execPath, [path.join(repoRoot, "scripts", "make-test-data.mjs"), dir], { stdio: ["ignore", "ignore", "inherit"] });
    made = true;
  }
  return dir;
}

/** The shared folder: $MLBRIDGE_SHARED, else ../shared beside the checkout. */
export function sharedDir() {
  return process.env.MLBRIDGE_SHARED ? path.resolve(process.env.MLBRIDGE_SHARED) : path.resolve(repoRoot, "..", "shared");
}

/** The book's data folder (ner.csv, ner_predict.csv, iris.csv, predict.csv), or null when absent. */
export function bookDataDir() {
  const dir = path.join(sharedDir(), "data", "book");
  return existsSync(path.join(dir, "ner.csv")) && existsSync(path.join(dir, "iris.csv")) ? dir : null;
}

/** The one line a test runner prints when the book's tests are skipped. */
export function bookSkippedLine() {
  return `the book's own data is not at ${path.join(sharedDir(), "data", "book")} (set MLBRIDGE_SHARED to the folder holding data/book): the tests that reproduce the book's files are skipped; every other test runs on the project's own data (build/test-data)`;
}
