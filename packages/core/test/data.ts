import path from "node:path";
import { bookDataDir, testDataDir } from "../../../scripts/lib/test-data.mjs";

/** The project's own test data (build/test-data; see scripts/make-test-data.mjs): always there. */
export const dataDir: string = testDataDir();
/** A file of the project's test data: iris.csv, predict.csv, ner.csv, ner_predict.csv, ner_holdout.csv, ner_large.csv. */
export const dataFile = (name: string): string => path.join(dataDir, name);

/** The book's own files, when ../shared/data (or $MLBRIDGE_SHARED/data) is there. */
export const bookDir: string | null = bookDataDir();
/** A file of the book's data; only in tests that run when `bookDir` is set (the global setup says once when they are skipped). */
export const book = (name: string): string => {
  if (!bookDir) throw new Error("the book's data is absent: test bookDir first");
  return path.join(bookDir, name);
};
