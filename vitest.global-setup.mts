// Runs once per vitest run, before any test file: makes the project's test
// data and says, in one line, whether the book's own files are tested too.
import { bookDataDir, bookSkippedLine, testDataDir } from "./scripts/lib/test-data.mjs";

export default function setup(): void {
  testDataDir();
  if (!bookDataDir()) console.log(`mlbridge: ${bookSkippedLine()}`);
}
