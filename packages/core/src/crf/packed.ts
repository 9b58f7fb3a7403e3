import type { NativeItem, PackedSequences } from "../binding";
import { InvalidInputError, invalidArgument } from "../errors";
import type { CrfSequence } from "./data";

/** Whether `name` can be a CRFsuite attribute or label name: non-empty, no NUL (CRFsuite's names are C strings). */
export function isCrfName(name: unknown): name is string {
  return typeof name === "string" && name.length > 0 && !name.includes("\0");
}

/** What an attribute must be, as errors say. */
export const CRF_ATTRIBUTE_RULE = "a [name, weight] attribute: a non-empty string without NUL and a finite number";

/** Whether `a` is a [name, weight] attribute CRFsuite can take. */
export function isCrfAttribute(a: unknown): a is [string, number] {
  return Array.isArray(a) && isCrfName(a[0]) && typeof a[1] === "number" && Number.isFinite(a[1]);
}

/** Checks that `items` is a list of items, each a list of [name, weight] attributes. */
export function validateItems(items: unknown, name = "items"): asserts items is NativeItem[] {
  if (!Array.isArray(items)) throw invalidArgument(name, "an array of items", items);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!Array.isArray(item)) throw invalidArgument(`${name}[${i}]`, "an array of [name, weight] attributes", item);
    for (let j = 0; j < item.length; j++) {
      const a = item[j];
      if (!isCrfAttribute(a)) throw invalidArgument(`${name}[${i}][${j}]`, CRF_ATTRIBUTE_RULE, a);
    }
  }
}

/**
 * Packs sequences of items ([name, weight][][] each) into the flat form the
 * addon tags and trains on: one string join and one UTF-8 encoding for all
 * names instead of a native call per attribute.
 * @throws INVALID_ARGUMENT naming the position (`name[i][t][k]`) of the first bad attribute.
 */
export function packSequences(sequences: readonly NativeItem[][], name = "sequences"): PackedSequences {
  if (!Array.isArray(sequences)) throw invalidArgument(name, "an array of sequences", sequences);
  sequences.forEach((s, i) => validateItems(s, `${name}[${i}]`));
  return packValidSequences(sequences);
}

/**
 * packSequences for sequences already checked with validateItems (trainCrf's,
 * checked whole before the training process gets any): no second pass over
 * every attribute.
 */
export function packValidSequences(sequences: readonly NativeItem[][]): PackedSequences {
  let numItems = 0;
  for (const s of sequences) numItems += s.length;
  const sequenceLengths = new Uint32Array(sequences.length);
  const itemAttributeCounts = new Uint32Array(numItems);
  const names: string[] = [];
  const weights: number[] = [];
  let allOnes = true;
  let item = 0;
  for (let i = 0; i < sequences.length; i++) {
    const s = sequences[i];
    sequenceLengths[i] = s.length;
    for (const attrs of s) {
      itemAttributeCounts[item++] = attrs.length;
      for (const [n, w] of attrs) {
        names.push(n);
        weights.push(w);
        if (w !== 1) allOnes = false;
      }
    }
  }
  return {
    attributeNames: names.length ? Buffer.from(names.join("\0") + "\0", "utf8") : new Uint8Array(0),
    attributeWeights: allOnes ? null : Float64Array.from(weights),
    itemAttributeCounts,
    sequenceLengths,
  };
}

/** Labels, each followed by a NUL byte (the labels argument of appendPacked). */
export function packLabels(labels: readonly string[]): Uint8Array {
  return labels.length ? Buffer.from(labels.join("\0") + "\0", "utf8") : new Uint8Array(0);
}

/**
 * Packed sequences (the API's CrfPackedSequences) with one label per item, as
 * training sequences. Checks the sizes (naming `field` and the API's field
 * names); names, weights and labels are checked where every training's are,
 * by trainCrf (checkTrainingSequences), and tagging's by the addon.
 * @throws InvalidInputError naming the field
 */
export function unpackSequences(p: PackedSequences, labels: readonly string[], field = "sequences"): CrfSequence[] {
  const counts = p.itemAttributeCounts;
  const lengths = p.sequenceLengths;
  let items = 0;
  for (const n of lengths) items += n;
  if (items !== counts.length)
    throw new InvalidInputError(`${field}.sequence_lengths: the lengths add up to ${items} items, but item_attribute_counts has ${counts.length}`);
  if (labels.length !== items) throw new InvalidInputError(`${field}: expected ${items} labels (one per item), got ${labels.length}`);
  let attributes = 0;
  for (const n of counts) attributes += n;
  const weights = p.attributeWeights?.length ? p.attributeWeights : null;
  if (weights && weights.length !== attributes) {
    throw new InvalidInputError(`${field}.attribute_weights: expected ${attributes} weights (one per attribute) or none, got ${weights.length}`);
  }
  const names = Buffer.from(p.attributeNames.buffer, p.attributeNames.byteOffset, p.attributeNames.byteLength).toString("utf8").split("\0");
  if (names.length !== attributes + 1 || names[attributes] !== "") {
    throw new InvalidInputError(`${field}.attribute_names: holds ${names.length - 1} NUL-terminated names, item_attribute_counts add up to ${attributes}`);
  }
  const out: CrfSequence[] = new Array(lengths.length);
  let item = 0;
  let a = 0;
  for (let s = 0; s < lengths.length; s++) {
    const seqItems: NativeItem[] = new Array(lengths[s]);
    for (let t = 0; t < lengths[s]; t++, item++) {
      const attrs: NativeItem = new Array(counts[item]);
      for (let k = 0; k < counts[item]; k++, a++) attrs[k] = [names[a], weights ? weights[a] : 1];
      seqItems[t] = attrs;
    }
    out[s] = { items: seqItems, labels: labels.slice(item - lengths[s], item) };
  }
  return out;
}
