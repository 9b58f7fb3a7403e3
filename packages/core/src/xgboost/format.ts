/**
 * Structural checks of XGBoost model bytes before they reach the library.
 * XGBoost 1.7's UBJ reader trusts the lengths it reads (a truncated or forged
 * model makes it read past the buffer and crash the process), so every length
 * and count is checked here against the buffer first.
 */
import { InvalidInputError } from "../errors";

const MAX_DEPTH = 128;
const FIXED: Record<number, number> = {
  0x69: 1, // i int8
  0x55: 1, // U uint8
  0x49: 2, // I int16
  0x6c: 4, // l int32
  0x4c: 8, // L int64
  0x64: 4, // d float32
  0x44: 8, // D float64
  0x43: 1, // C char
};

class UbjChecker {
  private p = 0;
  constructor(private readonly b: Buffer) {}

  fail(what: string): never {
    throw new InvalidInputError(`not a valid XGBoost UBJ model: ${what} at byte ${this.p}`);
  }

  need(n: number): void {
    if (n < 0 || this.p + n > this.b.length) this.fail(`truncated (needs ${n} more bytes)`);
  }

  byte(): number {
    this.need(1);
    return this.b[this.p++];
  }

  int(marker = this.byte()): number {
    const size = FIXED[marker];
    if (!size || marker === 0x64 || marker === 0x44 || marker === 0x43) this.fail(`expected an integer marker, got 0x${marker.toString(16)}`);
    this.need(size);
    let v: number;
    if (marker === 0x69) v = this.b.readInt8(this.p);
    else if (marker === 0x55) v = this.b[this.p];
    else if (marker === 0x49) v = this.b.readInt16BE(this.p);
    else if (marker === 0x6c) v = this.b.readInt32BE(this.p);
    else {
      const big = this.b.readBigInt64BE(this.p);
      if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < 0n) this.fail("length out of range");
      v = Number(big);
    }
    this.p += size;
    return v;
  }

  length(): number {
    const n = this.int();
    if (n < 0) this.fail("negative length");
    return n;
  }

  skipString(): void {
    const n = this.length();
    this.need(n);
    this.p += n;
  }

  value(marker: number, depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    const size = FIXED[marker];
    if (size) {
      this.need(size);
      this.p += size;
      return;
    }
    switch (marker) {
      case 0x5a: // Z null
      case 0x4e: // N no-op
      case 0x54: // T
      case 0x46: // F
        return;
      case 0x53: // S string
      case 0x48: // H high-precision number
        this.skipString();
        return;
      case 0x5b: // [ array
      case 0x7b: // { object
        this.container(marker === 0x7b, depth + 1);
        return;
      default:
        this.fail(`unknown marker 0x${marker.toString(16)}`);
    }
  }

  container(object: boolean, depth: number): void {
    let type: number | undefined;
    let count: number | undefined;
    if (this.b[this.p] === 0x24) {
      this.p++;
      type = this.byte();
      if (this.byte() !== 0x23) this.fail("a typed container needs a count");
      count = this.length();
    } else if (this.b[this.p] === 0x23) {
      this.p++;
      count = this.length();
    }
    if (count !== undefined) {
      if (type !== undefined && FIXED[type] && !object) {
        this.need(count * FIXED[type]); // typed numeric array: skip in one step
        this.p += count * FIXED[type];
        return;
      }
      for (let i = 0; i < count; i++) {
        if (object) this.skipString();
        this.value(type ?? this.byte(), depth);
      }
      return;
    }
    const end = object ? 0x7d : 0x5d;
    for (;;) {
      this.need(1);
      if (this.b[this.p] === end) {
        this.p++;
        return;
      }
      if (object) this.skipString();
      this.value(this.byte(), depth);
    }
  }

  document(): void {
    if (this.byte() !== 0x7b) this.fail("a model must be an object");
    this.container(true, 1);
    if (this.p !== this.b.length) this.fail("trailing bytes after the model");
  }
}

/** Checks that a JSON model is complete: balanced brackets outside strings, nothing cut off. */
function checkJson(b: Buffer): void {
  let depth = 0;
  let inString = false;
  let last = -1;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth < 0) throw new InvalidInputError(`not a valid XGBoost JSON model: unbalanced bracket at byte ${i}`);
      if (depth === 0) last = i;
    } else if (depth === 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      throw new InvalidInputError(`not a valid XGBoost JSON model: unexpected byte at ${i}`);
    }
  }
  if (inString || depth !== 0 || last < 0) throw new InvalidInputError("not a valid XGBoost JSON model: truncated");
}

/**
 * Checks XGBoost model bytes (JSON or UBJ, told apart by the first object key:
 * JSON has a quote after the brace) and returns which format they are.
 * @throws InvalidInputError naming the problem and its byte offset
 */
export function checkModelBytes(bytes: Buffer): "json" | "ubj" {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) throw new InvalidInputError("expected an XGBoost JSON or UBJ model (an object)");
  let j = i + 1;
  while (j < bytes.length && (bytes[j] === 0x20 || bytes[j] === 0x0a || bytes[j] === 0x0d || bytes[j] === 0x09)) j++;
  if (bytes[j] === 0x22 || bytes[j] === 0x7d) {
    checkJson(bytes);
    return "json";
  }
  new UbjChecker(bytes).document();
  return "ubj";
}
