/**
 * Structural checks of XGBoost model bytes before they reach the library.
 * XGBoost's UBJ reader trusted the lengths it reads (in 1.7 a truncated or
 * forged model made it read past the buffer and crash the process; 3.2 checks
 * more, but this is the one defence we own), so every length and count is
 * checked here against the buffer first.
 */
import { InvalidInputError } from "../errors";

type Json = Record<string, unknown>;
const MAX_DEPTH = 128;
/** Element type markers of the typed arrays a UBJ document held (UBJ only). */
const typedArrays = new WeakMap<unknown[], number>();
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

class UbjDecoder {
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

  /** Reads a number of the given fixed-size type. */
  fixed(marker: number): number {
    const size = FIXED[marker];
    this.need(size);
    const b = this.b;
    const at = this.p;
    this.p += size;
    switch (marker) {
      case 0x69:
        return b.readInt8(at);
      case 0x55:
        return b[at];
      case 0x49:
        return b.readInt16BE(at);
      case 0x6c:
        return b.readInt32BE(at);
      case 0x4c:
        return Number(b.readBigInt64BE(at));
      case 0x64:
        return b.readFloatBE(at);
      case 0x44:
        return b.readDoubleBE(at);
      default:
        return b[at]; // C char
    }
  }

  length(): number {
    const marker = this.byte();
    if (!FIXED[marker] || marker === 0x64 || marker === 0x44 || marker === 0x43) this.fail(`expected an integer marker, got 0x${marker.toString(16)}`);
    const n = this.fixed(marker);
    if (!Number.isSafeInteger(n) || n < 0) this.fail("length out of range");
    return n;
  }

  string(): string {
    const n = this.length();
    this.need(n);
    const s = this.b.toString("utf8", this.p, this.p + n);
    this.p += n;
    return s;
  }

  value(marker: number, depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    if (FIXED[marker]) return this.fixed(marker);
    switch (marker) {
      case 0x5a:
        return null; // Z
      case 0x4e:
        return undefined; // N
      case 0x54:
        return true; // T
      case 0x46:
        return false; // F
      case 0x53:
        return this.string(); // S
      case 0x48:
        return Number(this.string()); // H
      case 0x5b:
        return this.container(false, depth + 1);
      case 0x7b:
        return this.container(true, depth + 1);
      default:
        return this.fail(`unknown marker 0x${marker.toString(16)}`);
    }
  }

  container(object: boolean, depth: number): unknown {
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
    const out: unknown[] | Record<string, unknown> = object ? {} : [];
    if (!object && type !== undefined) typedArrays.set(out as unknown[], type);
    const put = (v: unknown, key?: string) => (object ? ((out as Record<string, unknown>)[key!] = v) : (out as unknown[]).push(v));
    if (count !== undefined) {
      if (type !== undefined && FIXED[type])
        this.need(count * FIXED[type]); // before allocating anything
      else this.need(count); // every element takes at least a byte
      for (let i = 0; i < count; i++) {
        const key = object ? this.string() : undefined;
        if (key !== undefined && Object.hasOwn(out, key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
        put(this.value(type ?? this.byte(), depth), key);
      }
      return out;
    }
    const end = object ? 0x7d : 0x5d;
    for (;;) {
      this.need(1);
      if (this.b[this.p] === end) {
        this.p++;
        return out;
      }
      const key = object ? this.string() : undefined;
      if (key !== undefined && Object.hasOwn(out, key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
      put(this.value(this.byte(), depth), key);
    }
  }

  document(): Json {
    if (this.byte() !== 0x7b) this.fail("a model must be an object");
    const doc = this.container(true, 1) as Json;
    if (this.p !== this.b.length) this.fail("trailing bytes after the model");
    return doc;
  }
}

/**
 * Decodes XGBoost model bytes (JSON or UBJ, told apart by the first object
 * key: JSON has a quote after the brace), checking every length on the way.
 * @throws InvalidInputError naming the problem and its byte offset
 */
export function decodeModel(bytes: Buffer): { doc: Json; ubj: boolean } {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) throw new InvalidInputError("expected an XGBoost JSON or UBJ model (an object)");
  let j = i + 1;
  while (j < bytes.length && (bytes[j] === 0x20 || bytes[j] === 0x0a || bytes[j] === 0x0d || bytes[j] === 0x09)) j++;
  if (bytes[j] === 0x22 || bytes[j] === 0x7d) {
    try {
      // XGBoost may write non-finite floats as bare NaN/Infinity tokens.
      return { doc: JSON.parse(bytes.toString("utf8").replace(/([:,[]\s*)-?(?:NaN|Infinity|inf|nan)\b/g, "$1null")) as Json, ubj: false };
    } catch (err) {
      throw new InvalidInputError(`not a valid XGBoost JSON model: ${(err as Error).message}`);
    }
  }
  return { doc: new UbjDecoder(bytes).document(), ubj: true };
}

/** The typed-array element type XGBoost writes (and reads without checking) for each tree array. */
const TREE_ARRAY_TYPES: [string, number][] = [
  ...["left_children", "right_children", "parents", "split_indices", "categories", "categories_nodes"].map((n): [string, number] => [n, 0x6c]),
  ...["split_conditions", "base_weights", "loss_changes", "sum_hessian"].map((n): [string, number] => [n, 0x64]),
  ...["split_type", "default_left"].map((n): [string, number] => [n, 0x55]),
  ...["categories_segments", "categories_sizes"].map((n): [string, number] => [n, 0x4c]),
];
const num = (v: unknown): number => (typeof v === "string" ? Number(v) : typeof v === "number" ? v : Number.NaN);
const arr = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : []);

/**
 * Checks the trees of a decoded model before XGBoost loads it. XGBoost (1.7,
 * where these were found; kept for 3.2) trusts a model's tree arrays: lengths that disagree with num_nodes crash its
 * loader, and a child index or split feature out of range makes prediction
 * read out of bounds (both found by scripts/fuzz.mjs). Node ids grow from parent to child
 * in XGBoost trees, so children must come after their parent and within the tree.
 * @throws InvalidInputError naming the tree and node
 */
export function checkModelStructure(doc: Json, ubj = false): void {
  const bad = (what: string): never => {
    throw new InvalidInputError(`not a valid XGBoost model: ${what}`);
  };
  const learner = (doc.learner ?? bad("no learner")) as Json;
  const mp = (learner.learner_model_param ?? {}) as Json;
  const numFeature = num(mp.num_feature);
  const numClass = Math.max(1, num(mp.num_class) || 0);
  if (!Number.isInteger(numFeature) || numFeature < 0) bad("num_feature");
  let booster = (learner.gradient_booster ?? bad("no gradient_booster")) as Json;
  if (booster.name === "dart") booster = (booster.gbtree ?? bad("dart without gbtree")) as Json;
  if (booster.name === "gblinear") {
    const weights = arr(((booster.model ?? {}) as Json).weights);
    if (weights.length !== (numFeature + 1) * numClass) bad(`gblinear weights: expected ${(numFeature + 1) * numClass}, got ${weights.length}`);
    return;
  }
  if (booster.name !== "gbtree") bad(`unknown booster ${String(booster.name)}`);
  const model = (booster.model ?? bad("no model")) as Json;
  const trees = Array.isArray(model.trees) ? (model.trees as Json[]) : bad("no trees");
  const numTrees = num(((model.gbtree_model_param ?? {}) as Json).num_trees);
  if (numTrees !== trees.length) bad(`num_trees is ${numTrees} but there are ${trees.length} trees`);
  const treeInfo = arr(model.tree_info);
  if (treeInfo.length !== trees.length) bad(`tree_info has ${treeInfo.length} entries for ${trees.length} trees`);
  treeInfo.forEach((g, i) => {
    if (!Number.isInteger(g) || g < 0 || g >= numClass) bad(`tree_info[${i}] = ${g} is not a class group`);
  });
  trees.forEach((t, ti) => {
    const n = num((t.tree_param as Json | undefined)?.num_nodes);
    if (!Number.isInteger(n) || n < 1) bad(`tree ${ti}: num_nodes`);
    if (t.id !== undefined && num(t.id) !== ti) bad(`tree ${ti}: id ${String(t.id)}`);
    const left = arr(t.left_children);
    const right = arr(t.right_children);
    const split = arr(t.split_indices);
    for (const [name, a] of [
      ["left_children", left],
      ["right_children", right],
      ["split_indices", split],
      ["split_conditions", arr(t.split_conditions)],
      ["base_weights", arr(t.base_weights)],
      ["parents", arr(t.parents)],
      ["default_left", arr(t.default_left)],
      ["loss_changes", arr(t.loss_changes)],
      ["sum_hessian", arr(t.sum_hessian)],
    ] as const) {
      if (a.length !== n) bad(`tree ${ti}: ${name} has ${a.length} entries for ${n} nodes`);
    }
    if (ubj) {
      // XGBoost reads a UBJ tree's arrays as the typed arrays it writes, without checking their type.
      for (const [name, marker] of TREE_ARRAY_TYPES) {
        const a = t[name];
        if (!Array.isArray(a) || typedArrays.get(a) !== marker) bad(`tree ${ti}: ${name} must be a typed array of '${String.fromCharCode(marker)}'`);
      }
    }
    const splitType = arr(t.split_type);
    if (splitType.length && splitType.length !== n) bad(`tree ${ti}: split_type has ${splitType.length} entries for ${n} nodes`);
    const parents = arr(t.parents);
    for (let i = 1; i < n; i++) {
      const p = parents[i];
      if (!Number.isInteger(p) || p < 0 || p >= i || (left[p] !== i && right[p] !== i)) bad(`tree ${ti} node ${i}: parent ${p} does not point to it`);
    }
    for (let i = 0; i < n; i++) {
      const l = left[i];
      const r = right[i];
      if (l === -1 && r === -1) continue;
      if (!Number.isInteger(l) || !Number.isInteger(r) || l <= i || r <= i || l >= n || r >= n || l === r)
        bad(`tree ${ti} node ${i}: children ${l}, ${r} out of range`);
      if (!Number.isInteger(split[i]) || split[i] < 0 || (numFeature > 0 && split[i] >= numFeature))
        bad(`tree ${ti} node ${i}: split feature ${split[i]} out of range`);
    }
    const cats = arr(t.categories);
    const nodes = arr(t.categories_nodes);
    const segs = arr(t.categories_segments);
    const sizes = arr(t.categories_sizes);
    if (nodes.length !== segs.length || nodes.length !== sizes.length) bad(`tree ${ti}: categorical arrays differ in length`);
    nodes.forEach((node, k) => {
      if (!Number.isInteger(node) || node < 0 || node >= n) bad(`tree ${ti}: categorical node ${node} out of range`);
      if (!(segs[k] >= 0 && sizes[k] >= 0 && segs[k] + sizes[k] <= cats.length)) bad(`tree ${ti}: categories segment ${k} out of range`);
    });
  });
}

/** UBJ key: 'L', its length as a big-endian int64, the text. */
function ubjKey(key: string): Buffer {
  const b = Buffer.alloc(9 + key.length);
  b[0] = 0x4c;
  b.writeBigInt64BE(BigInt(key.length), 1);
  b.write(key, 9, "latin1");
  return b;
}
/** learner_model_param's first key (XGBoost writes keys in sorted order), as XGBoost writes it in UBJ. */
const UBJ_BASE_SCORE = Buffer.concat([ubjKey("learner_model_param"), Buffer.from("{", "latin1"), ubjKey("base_score")]);

/**
 * Rewrites a model's `base_score` from the vector form that XGBoost 3.1+ writes
 * ("[5E-1]", one intercept per output) to the scalar form ("5E-1") when every
 * intercept is the same value, in JSON or UBJ bytes as XGBoost 3.2 writes them.
 * XGBoost 3.2 reads both forms the same way; XGBoost <= 3.0 reads only the
 * scalar one: given the vector it loads the model without an error and drops
 * the intercept (measured with 1.7.6, 2.0.3, 2.1.4 and 3.0.5). Intercepts that
 * differ (a multi-class model trained by XGBoost >= 3.1) have no scalar form:
 * the bytes are returned unchanged, readable by XGBoost >= 3.1 only.
 */
export function scalarBaseScore(bytes: Buffer, ubj: boolean): Buffer {
  if (!ubj) {
    const text = bytes.toString("utf8");
    const m = /("learner_model_param"\s*:\s*\{\s*"base_score"\s*:\s*)"\[([^\]"]*)\]"/.exec(text);
    const scalar = m && sameValues(m[2]);
    if (!m || scalar === undefined) return bytes;
    return Buffer.from(text.slice(0, m.index) + `${m[1]}"${scalar}"` + text.slice(m.index + m[0].length), "utf8");
  }
  // UBJ: the key, then 'S', a length (marker + big-endian integer), the text.
  const at = bytes.indexOf(UBJ_BASE_SCORE);
  if (at < 0) return bytes;
  let p = at + UBJ_BASE_SCORE.length;
  if (bytes[p] !== 0x53) return bytes;
  const marker = bytes[p + 1];
  const size = FIXED[marker];
  if (!size || marker === 0x64 || marker === 0x44 || marker === 0x43 || p + 2 + size > bytes.length) return bytes;
  const n = size === 1 ? bytes[p + 2] : size === 2 ? bytes.readInt16BE(p + 2) : size === 4 ? bytes.readInt32BE(p + 2) : Number(bytes.readBigInt64BE(p + 2));
  const start = p + 2 + size;
  if (!(n >= 2) || start + n > bytes.length) return bytes;
  const value = bytes.toString("latin1", start, start + n);
  if (!value.startsWith("[") || !value.endsWith("]")) return bytes;
  const scalar = sameValues(value.slice(1, -1));
  if (scalar === undefined) return bytes;
  const text = Buffer.from(scalar, "latin1");
  const head = Buffer.alloc(2 + size);
  head[0] = 0x53;
  head[1] = marker;
  if (size === 1) head[2] = text.length;
  else if (size === 2) head.writeInt16BE(text.length, 2);
  else if (size === 4) head.writeInt32BE(text.length, 2);
  else head.writeBigInt64BE(BigInt(text.length), 2);
  p = start + n;
  return Buffer.concat([bytes.subarray(0, at + UBJ_BASE_SCORE.length), head, text, bytes.subarray(p)]);
}

/** The one value of a comma-separated list whose items are all the same number (as written), else undefined. */
function sameValues(list: string): string | undefined {
  const items = list.split(",").map((s) => s.trim());
  if (!items.length || items[0] === "" || !Number.isFinite(Number(items[0]))) return undefined;
  return items.every((s) => Number(s) === Number(items[0])) ? items[0] : undefined;
}
