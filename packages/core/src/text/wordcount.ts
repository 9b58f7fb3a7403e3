import { InvalidInputError } from "../errors";

/**
 * A word, as in the book (Rust regex `\w+`): a maximal run of Unicode
 * alphabetic characters, marks, decimal digits, connector punctuation and
 * join controls.
 */
const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;

/** ASCII word characters (letters, digits, `_`: the only ASCII members of those classes). */
const ASCII_WORD = new Uint8Array(128);
for (let c = 0; c < 128; c++) ASCII_WORD[c] = /[A-Za-z0-9_]/.test(String.fromCharCode(c)) ? 1 : 0;
/** Non-ASCII code points seen so far: whether each is a word character (bounded by Unicode's size). */
const wideCache = new Map<number, boolean>();
function isWideWordChar(cp: number): boolean {
  let yes = wideCache.get(cp);
  if (yes === undefined) wideCache.set(cp, (yes = WORD_CHAR.test(String.fromCodePoint(cp))));
  return yes;
}

/** Code point at UTF-16 index `i` (a lone surrogate stands for itself), and its width in code units. */
function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

/** Word counts: each distinct word (case-sensitive) and its count. */
export type WordCounts = Map<string, number>;
/**
 * Counting state: an open-addressing table keyed by the words' UTF-16 code
 * units, hashed while scanning. A word already seen is found by comparing it in
 * place, so it costs no string allocation (most words of a text are repeats);
 * a new word is sliced once. Entries keep first-seen order.
 */
class Tally {
  private slots = new Int32Array(1 << 12); // entry index + 1, 0 = empty
  private mask = (1 << 12) - 1;
  private readonly words: string[] = [];
  private readonly counts: number[] = [];
  private hashes = new Int32Array(1 << 11);

  add(text: string, start: number, end: number, hash: number): void {
    const len = end - start;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const e = this.slots[slot];
      if (e === 0) {
        const idx = this.words.length;
        this.words.push(text.slice(start, end));
        this.counts.push(1);
        if (idx >= this.hashes.length) {
          const h = new Int32Array(this.hashes.length * 2);
          h.set(this.hashes);
          this.hashes = h;
        }
        this.hashes[idx] = hash;
        this.slots[slot] = idx + 1;
        if (this.words.length * 2 > this.slots.length) this.grow();
        return;
      }
      const idx = e - 1;
      if (this.hashes[idx] === hash) {
        const w = this.words[idx];
        if (w.length === len) {
          let k = 0;
          while (k < len && w.charCodeAt(k) === text.charCodeAt(start + k)) k++;
          if (k === len) {
            this.counts[idx]++;
            return;
          }
        }
      }
    }
  }

  private grow(): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let idx = 0; idx < this.words.length; idx++) {
      let slot = this.hashes[idx] & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = idx + 1;
    }
  }

  toCounts(): WordCounts {
    const out: WordCounts = new Map();
    for (let i = 0; i < this.words.length; i++) out.set(this.words[i], this.counts[i]);
    return out;
  }
}

/**
 * Adds the words of `text` to `tally`; returns how many words it added.
 * A scanner rather than `matchAll(/[…]+/gu)`: ASCII is classified by table
 * lookup, each word is hashed (FNV-1a over its code units) as it is scanned,
 * and no match object or string is made for a word already counted.
 */
function addWords(text: string, tally: Tally): number {
  let total = 0;
  let start = -1;
  let hash = 0;
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    let word: boolean;
    let width = 1;
    if (c < 128) {
      word = ASCII_WORD[c] === 1;
    } else {
      const cp = codePointAt(text, i);
      if (cp > 0xffff) width = 2;
      word = isWideWordChar(cp);
    }
    if (word) {
      if (start < 0) {
        start = i;
        hash = 0x811c9dc5 | 0;
      }
      hash = Math.imul(hash ^ c, 0x01000193);
      if (width === 2) hash = Math.imul(hash ^ text.charCodeAt(i + 1), 0x01000193);
    } else if (start >= 0) {
      tally.add(text, start, i, hash);
      total++;
      start = -1;
    }
    i += width;
  }
  if (start >= 0) {
    tally.add(text, start, n, hash);
    total++;
  }
  return total;
}

/** Index where the run of word characters that ends `text` starts (text.length if none). */
function trailingWordStart(text: string): number {
  let i = text.length;
  while (i > 0) {
    let j = i - 1;
    const c = text.charCodeAt(j);
    if (c >= 0xdc00 && c <= 0xdfff && j > 0) {
      const h = text.charCodeAt(j - 1);
      if (h >= 0xd800 && h <= 0xdbff) j--;
    }
    const word = c < 128 ? ASCII_WORD[c] === 1 : isWideWordChar(codePointAt(text, j));
    if (!word) break;
    i = j;
  }
  return i;
}

/**
 * Counts the words of `text` (the book's word count).
 * @throws InvalidInputError "Empty input string" when `text` is empty or not a string.
 */
export function countWords(text: string): WordCounts {
  if (typeof text !== "string" || text.length === 0) throw new InvalidInputError("Empty input string");
  const tally = new Tally();
  addWords(text, tally);
  return tally.toCounts();
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
  private readonly tally = new Tally();
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
    return this.tally.toCounts();
  }

  private consume(text: string, final: boolean): void {
    // A word touching the end of the chunk may continue in the next one: keep it back.
    let body = text;
    this.carry = "";
    if (!final) {
      const at = trailingWordStart(text);
      if (at < text.length) {
        this.carry = text.slice(at);
        body = text.slice(0, at);
      }
    }
    this.totalWords += addWords(body, this.tally);
  }
}
