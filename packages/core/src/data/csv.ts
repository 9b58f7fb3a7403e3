import { isUtf8 } from "node:buffer";
import { CsvError, parse } from "csv-parse";
import { createReadStream } from "node:fs";
import { InvalidInputError, MlBridgeError } from "../errors";

/**
 * Where CSV data comes from: a file path (string), bytes, or a stream of byte
 * chunks split anywhere (an upload, `fs.createReadStream`).
 */
export type CsvSource = string | Buffer | Uint8Array | AsyncIterable<Uint8Array | string>;

/** A parsed CSV table: the header, the rows and the file line where each row starts. */
export interface CsvTable {
  /** Column names from the header row (BOM removed). */
  header: string[];
  /** Data rows; every row has header.length fields. */
  rows: string[][];
  /** 1-based file line on which each row starts. */
  lines: number[];
  /** Column name → index. */
  index: Map<string, number>;
}

/** Options of readCsv. */
export interface ReadCsvOptions {
  /** Columns that must be in the header (error names the first missing one). */
  required?: readonly string[];
  /** What the file is, for messages (e.g. "NER training CSV"). */
  what?: string;
}

const SLICE = 64 * 1024;

async function* chunksOf(source: CsvSource): AsyncGenerator<Buffer> {
  if (typeof source === "string") {
    try {
      for await (const chunk of createReadStream(source, { highWaterMark: SLICE })) yield chunk as Buffer;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new MlBridgeError("NOT_FOUND", `file not found: ${source}`);
      throw new InvalidInputError(`cannot read ${source}: ${(err as Error).message}`);
    }
    return;
  }
  if (source instanceof Uint8Array) {
    const buf = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    for (let i = 0; i < buf.length; i += SLICE) yield buf.subarray(i, i + SLICE);
    return;
  }
  for await (const chunk of source) yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk);
}

/** Finds the 1-based line of the first invalid UTF-8 sequence in `buf`. */
function firstBadUtf8Line(buf: Buffer): number {
  let line = 1;
  let start = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    if (!isUtf8(buf.subarray(start, end))) return line;
    start = end + 1;
    line++;
  }
  return line;
}

/** The header of a CSV being scanned. */
export interface CsvHeader {
  /** Column names (BOM removed, trimmed). */
  header: string[];
  /** Column name → index. */
  index: Map<string, number>;
}

/**
 * Scans a CSV file with a header row, streaming: `onRow` gets each data row
 * and the 1-based file line it starts on, and nothing is kept, so memory stays
 * that of one chunk plus what `onRow` keeps. RFC 4180 quoting is supported,
 * including newlines inside quoted fields. A UTF-8 BOM is dropped. The header
 * is checked (duplicated and required columns) before the first row.
 *
 * @returns the header and the number of data rows
 * @throws InvalidInputError naming the line (and column where it applies) for:
 *   an empty file, a header without rows, duplicated or missing columns,
 *   rows with a different number of fields, malformed quoting, invalid UTF-8;
 *   and whatever `onHeader` or `onRow` throw.
 */
export async function scanCsv(
  source: CsvSource,
  options: ReadCsvOptions,
  onRow: (row: string[], line: number) => void,
  onHeader?: (h: CsvHeader) => void,
): Promise<CsvHeader & { rows: number }> {
  const what = options.what ?? "CSV";
  const parser = parse({ bom: true, info: true, skip_empty_lines: true, relax_quotes: false });
  let head: CsvHeader | undefined;
  let rows = 0;
  let bytes = 0;
  let badLine = 0;
  // Bytes after the last newline seen, kept as a list: a line of many chunks
  // is joined once, when its end arrives (joining per chunk made one 60 MB
  // line cost minutes).
  let carry: Buffer[] = [];

  let linesBefore = 0; // newlines in the bytes already validated
  const check = (bytes: Buffer): boolean => {
    if (isUtf8(bytes)) {
      for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) linesBefore++;
      return true;
    }
    badLine = linesBefore + firstBadUtf8Line(bytes);
    return false;
  };
  const feed = (async () => {
    for await (const chunk of chunksOf(source)) {
      bytes += chunk.length;
      // Validate UTF-8 on whole lines so a multi-byte character split across chunks is fine.
      const nl = chunk.lastIndexOf(0x0a);
      if (nl < 0) {
        carry.push(Buffer.from(chunk));
        continue;
      }
      const complete = carry.length ? Buffer.concat([...carry, chunk.subarray(0, nl + 1)]) : chunk.subarray(0, nl + 1);
      carry = nl + 1 < chunk.length ? [Buffer.from(chunk.subarray(nl + 1))] : [];
      if (!check(complete)) break;
      if (!parser.write(complete.toString("utf8"))) await new Promise((r) => parser.once("drain", r));
    }
    const rest = Buffer.concat(carry);
    if (!badLine && rest.length && check(rest)) parser.write(rest.toString("utf8"));
    parser.end();
  })();
  feed.catch((err) => parser.destroy(err as Error));

  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (badLine) break;
      if (!head) {
        head = checkHeader(
          rec.record.map((h) => h.trim()),
          options,
          what,
        );
        onHeader?.(head);
        continue;
      }
      rows++;
      onRow(rec.record, rec.info.lines - countNewlines(rec.record));
    }
  } catch (err) {
    parser.destroy();
    const e = err as { lines?: number; message: string; code?: string };
    if (err instanceof CsvError || e.code?.startsWith("CSV_")) {
      const line = typeof e.lines === "number" ? e.lines : undefined;
      throw new InvalidInputError(`${what}${line ? ` line ${line}` : ""}: ${e.message.replace(/ on line \d+$/, "")}`);
    }
    throw err;
  }
  await feed.catch(() => undefined);
  if (badLine) throw new InvalidInputError(`${what} line ${badLine}: text is not valid UTF-8`);
  if (bytes === 0 || !head) throw new InvalidInputError(`${what}: the file is empty`);
  if (rows === 0) throw new InvalidInputError(`${what}: the file has a header but no data rows`);
  return { ...head, rows };
}

function checkHeader(header: string[], options: ReadCsvOptions, what: string): CsvHeader {
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    const prev = index.get(name);
    if (prev !== undefined) {
      throw new InvalidInputError(`${what} line 1: column ${JSON.stringify(name)} appears twice (columns ${prev + 1} and ${i + 1})`);
    }
    index.set(name, i);
  });
  for (const col of options.required ?? []) {
    if (!index.has(col)) throw new InvalidInputError(`${what} line 1: missing column ${JSON.stringify(col)}`);
  }
  return { header, index };
}

/**
 * Reads a whole CSV file with a header row into memory (see scanCsv for the
 * format and errors). For large inputs prefer scanCsv, which keeps no rows.
 */
export async function readCsv(source: CsvSource, options: ReadCsvOptions = {}): Promise<CsvTable> {
  const rows: string[][] = [];
  const lines: number[] = [];
  const { header, index } = await scanCsv(source, options, (row, line) => {
    rows.push(row);
    lines.push(line);
  });
  return { header, rows, lines, index };
}

function countNewlines(fields: string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf("\n"); i >= 0; i = f.indexOf("\n", i + 1)) n++;
  return n;
}
