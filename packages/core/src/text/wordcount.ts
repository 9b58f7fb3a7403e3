import { InvalidInputError } from "../errors";

/**
 * A word, as in the book (Rust regex `\w+`): a maximal run of Unicode
 * alphabetic characters, marks, decimal digits, connector punctuation and
 * join controls.
 */
const WORD = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+/gu;
const WORD_AT_END = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+$/u;

/** Word counts: each distinct word (case-sensitive) and its count. */
export type WordCounts = Map<string, number>;

/** Adds the words of `text` to `counts`; returns how many words it added. */
function addWords(text: string, counts: WordCounts): number {
  let total = 0;
  for (const m of text.matchAll(WORD)) {
    const w = m[0];
    counts.set(w, (counts.get(w) ?? 0) + 1);
    total++;
  }
  return total;
}

/**
 * Counts the words of `text` (the book's word count).
 * @throws InvalidInputError "Empty input string" when `text` is empty or not a string.
 */
export function countWords(text: string): WordCounts {
  if (typeof text !== "string" || text.length === 0) throw new InvalidInputError("Empty input string");
  const counts: WordCounts = new Map();
  addWords(text, counts);
  return counts;
}

/** Word counts as a plain object (for JSON), keys in first-seen order. */
export function countsToObject(counts: WordCounts): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  for (const [k, v] of counts) out[k] = v;
  return out;
}

/**
 * Counts words over a text that arrives in chunks of UTF-8 bytes (or strings),
 * split anywhere — inside a word or inside a multi-byte character.
 */
export class WordCounter {
  readonly counts: WordCounts = new Map();
  totalWords = 0;
  totalBytes = 0;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private carry = "";
  private sawText = false;

  /**
   * Adds a chunk.
   * @throws InvalidInputError when the bytes are not valid UTF-8.
   */
  push(chunk: Uint8Array | string): void {
    let text: string;
    if (typeof chunk === "string") {
      text = chunk;
      this.totalBytes += Buffer.byteLength(chunk);
    } else {
      this.totalBytes += chunk.length;
      try {
        text = this.decoder.decode(chunk, { stream: true });
      } catch {
        throw new InvalidInputError(`text is not valid UTF-8 (in the bytes before offset ${this.totalBytes})`);
      }
    }
    if (text.length > 0) this.sawText = true;
    this.consume(this.carry + text, false);
  }

  /**
   * Ends the text and returns the counts.
   * @throws InvalidInputError "Empty input string" when no text was pushed; or on truncated UTF-8.
   */
  finish(): WordCounts {
    let tail: string;
    try {
      tail = this.decoder.decode();
    } catch {
      throw new InvalidInputError("text is not valid UTF-8 (it ends inside a character)");
    }
    if (tail.length > 0) this.sawText = true;
    if (!this.sawText) throw new InvalidInputError("Empty input string");
    this.consume(this.carry + tail, true);
    return this.counts;
  }

  private consume(text: string, final: boolean): void {
    // A word touching the end of the chunk may continue in the next one: keep it back.
    let body = text;
    this.carry = "";
    if (!final) {
      const m = WORD_AT_END.exec(text);
      if (m) {
        this.carry = m[0];
        body = text.slice(0, m.index);
      }
    }
    this.totalWords += addWords(body, this.counts);
  }
}
