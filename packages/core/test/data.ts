import { existsSync } from "node:fs";
import path from "node:path";

/** The shared data folder (../shared/data beside the checkout), or MLBRIDGE_SHARED/data. */
export const sharedData = process.env.MLBRIDGE_SHARED
  ? path.join(process.env.MLBRIDGE_SHARED, "data")
  : path.resolve(__dirname, "../../../../shared/data");

/** A file of the book's data set. */
export const book = (name: string): string => path.join(sharedData, "book", name);

if (!existsSync(book("ner.csv"))) {
  throw new Error(`the shared data is missing at ${sharedData} (set MLBRIDGE_SHARED to the folder holding data/)`);
}
