import type { NativeItem } from "../binding";
import { readCsv, type CsvSource } from "../data/csv";
import { InvalidInputError } from "../errors";
import { compileTemplate, itemFromRow, templateColumns, type CrfFeatureTemplate } from "./features";

/** A sequence: a sentence's items, with labels when known. */
export interface CrfSequence {
  items: NativeItem[];
  labels?: string[];
}

/** NER data read from the book's CSV format, grouped into sentences. */
export interface NerDataset {
  /** Sentences in file order. */
  sequences: CrfSequence[];
  /** The `sentence_idx` value of each sentence. */
  sentenceIds: string[];
  /** Number of rows (tokens). */
  tokens: number;
}

/**
 * Reads the book's NER CSV (columns `,lemma,next-lemma,...,sentence_idx,shape,word[,tag]`)
 * into sentences (consecutive rows with the same `sentence_idx`) of items built
 * by `template`. With `withTags`, the `tag` column is required and becomes the labels.
 *
 * @throws InvalidInputError naming the line and column for malformed input.
 */
export async function readNerCsv(source: CsvSource, template: CrfFeatureTemplate, withTags: boolean): Promise<NerDataset> {
  const what = withTags ? "training CSV" : "predict CSV";
  const required = ["sentence_idx", ...templateColumns(template), ...(withTags ? ["tag"] : [])];
  const table = await readCsv(source, { required, what });
  const compiled = compileTemplate(template, table.index);
  const sentCol = table.index.get("sentence_idx")!;
  const tagCol = withTags ? table.index.get("tag")! : -1;
  const sequences: CrfSequence[] = [];
  const sentenceIds: string[] = [];
  let current: CrfSequence | undefined;
  let currentId: string | undefined;
  table.rows.forEach((row, r) => {
    const sid = row[sentCol];
    if (sid === "") throw new InvalidInputError(`${what} line ${table.lines[r]}: column "sentence_idx" is empty`);
    if (!current || sid !== currentId) {
      current = { items: [], ...(withTags ? { labels: [] } : {}) };
      currentId = sid;
      sequences.push(current);
      sentenceIds.push(sid);
    }
    current.items.push(itemFromRow(row, compiled));
    if (withTags) {
      const tag = row[tagCol];
      if (tag === "") throw new InvalidInputError(`${what} line ${table.lines[r]}: column "tag" is empty`);
      current.labels!.push(tag);
    }
  });
  return { sequences, sentenceIds, tokens: table.rows.length };
}

/** Counts the items of a list of sequences. */
export function countItems(sequences: CrfSequence[]): number {
  let n = 0;
  for (const s of sequences) n += s.items.length;
  return n;
}
