import type { NativeItem } from "../binding";
import type { PackedSequences } from "../binding";
import { scanCsv, type CsvSource } from "../data/csv";
import { Growable } from "../data/growable";
import { parseOffThread, runOffThread } from "../data/offthread";
import { InvalidInputError } from "../errors";
import { compileTemplate, itemFromRow, templateColumns, type CompiledTemplate, type CrfFeatureTemplate } from "./features";

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

/** NER data in the packed form (see packSequences): typed arrays, no object per attribute. */
export interface PackedNerDataset {
  packed: PackedSequences;
  /** One tag per token, in order (with tags only). */
  labels?: string[];
  /** The `sentence_idx` value of each sentence. */
  sentenceIds: string[];
  /** Number of rows (tokens). */
  tokens: number;
}

/**
 * Scans the book's NER CSV, calling `sentence` at each new sentence and
 * `token` for each row (its items built by `template`, its tag or undefined).
 */
async function scanNerCsv(
  source: CsvSource,
  template: CrfFeatureTemplate,
  withTags: boolean,
  sentence: (id: string) => void,
  token: (row: string[], compiled: CompiledTemplate, tag: string | undefined, line: number) => void,
): Promise<number> {
  const what = withTags ? "training CSV" : "predict CSV";
  const required = ["sentence_idx", ...templateColumns(template), ...(withTags ? ["tag"] : [])];
  let compiled: CompiledTemplate = [];
  let sentCol = -1;
  let tagCol = -1;
  let currentId: string | undefined;
  const { rows } = await scanCsv(
    source,
    { required, what },
    (row, line) => {
      const sid = row[sentCol];
      if (sid === "") throw new InvalidInputError(`${what} line ${line}: column "sentence_idx" is empty`);
      if (sid !== currentId) {
        currentId = sid;
        sentence(sid);
      }
      let tag: string | undefined;
      if (withTags) {
        tag = row[tagCol];
        if (tag === "") throw new InvalidInputError(`${what} line ${line}: column "tag" is empty`);
      }
      token(row, compiled, tag, line);
    },
    ({ index }) => {
      compiled = compileTemplate(template, index);
      sentCol = index.get("sentence_idx")!;
      tagCol = withTags ? index.get("tag")! : -1;
    },
  );
  return rows;
}

/**
 * Reads the book's NER CSV (columns `,lemma,next-lemma,...,sentence_idx,shape,word[,tag]`)
 * into sentences (consecutive rows with the same `sentence_idx`) of items built
 * by `template`. With `withTags`, the `tag` column is required and becomes the labels.
 *
 * @throws InvalidInputError naming the line and column for malformed input.
 */
export async function readNerCsv(source: CsvSource, template: CrfFeatureTemplate, withTags: boolean): Promise<NerDataset> {
  const sequences: CrfSequence[] = [];
  const sentenceIds: string[] = [];
  let current!: CrfSequence;
  const tokens = await scanNerCsv(
    source,
    template,
    withTags,
    (id) => {
      current = { items: [], ...(withTags ? { labels: [] } : {}) };
      sequences.push(current);
      sentenceIds.push(id);
    },
    (row, compiled, tag) => {
      current.items.push(itemFromRow(row, compiled));
      if (tag !== undefined) current.labels!.push(tag);
    },
  );
  return { sequences, sentenceIds, tokens };
}

/**
 * readNerCsv into the packed form: the memory is a small multiple of the
 * CSV's (names as UTF-8 bytes, counts and weights as typed arrays), and the
 * result crosses to another thread or process as it is. A file, or bytes of
 * OFF_THREAD_BYTES or more, are read on a worker thread.
 */
export async function readNerCsvPacked(source: CsvSource, template: CrfFeatureTemplate, withTags: boolean): Promise<PackedNerDataset> {
  if (parseOffThread(source)) return runOffThread<PackedNerDataset>({ op: "nerPacked", source, args: [template, withTags] });
  return readNerCsvPackedHere(source, template, withTags);
}

/** readNerCsvPacked on the calling thread. @internal (the parse worker's) */
export async function readNerCsvPackedHere(source: CsvSource, template: CrfFeatureTemplate, withTags: boolean): Promise<PackedNerDataset> {
  const nameChunks: Buffer[] = [];
  let names: string[] = [];
  const weights = new Growable((n) => new Float64Array(n));
  let allOnes = true;
  const counts = new Growable((n) => new Uint32Array(n));
  const lengths = new Growable((n) => new Uint32Array(n));
  const labels: string[] | undefined = withTags ? [] : undefined;
  const sentenceIds: string[] = [];
  let inSentence = 0;
  const tokens = await scanNerCsv(
    source,
    template,
    withTags,
    (id) => {
      if (sentenceIds.length) lengths.push(inSentence);
      sentenceIds.push(id);
      inSentence = 0;
    },
    (row, compiled, tag, line) => {
      const item = itemFromRow(row, compiled);
      counts.push(item.length);
      for (const [n, w] of item) {
        // NUL ends a name in the packed form (CRFsuite's names are C strings).
        if (n.includes("\0"))
          throw new InvalidInputError(`${withTags ? "training" : "predict"} CSV line ${line}: a value holds a NUL character, which an attribute name cannot`);
        names.push(n);
        weights.push(w);
        if (w !== 1) allOnes = false;
      }
      if (names.length >= 65_536) {
        nameChunks.push(Buffer.from(names.join("\0") + "\0", "utf8"));
        names = [];
      }
      inSentence++;
      if (tag !== undefined) labels!.push(tag);
    },
  );
  lengths.push(inSentence);
  if (names.length) nameChunks.push(Buffer.from(names.join("\0") + "\0", "utf8"));
  return {
    packed: {
      attributeNames: Buffer.concat(nameChunks),
      attributeWeights: allOnes ? null : weights.finish(),
      itemAttributeCounts: counts.finish(),
      sequenceLengths: lengths.finish(),
    },
    labels,
    sentenceIds,
    tokens,
  };
}

/** Counts the items of a list of sequences. */
export function countItems(sequences: CrfSequence[]): number {
  let n = 0;
  for (const s of sequences) n += s.items.length;
  return n;
}
