import { readFile } from "node:fs/promises";
import { binding, type NativeCrfTagger, type NativeItem } from "../binding";
import { awaitNative, callNative, invalidArgument } from "../errors";

/** Options of tagging. */
export interface TagOptions {
  /** Return the probability of each sequence's path. */
  probability?: boolean;
  /** Return items × labels marginals (columns in `model.labels` order). */
  marginals?: boolean;
}

/** Result of tagging one sequence. */
export interface TagResult {
  labels: string[];
  probability?: number;
  marginals?: Float64Array;
}

/** Batches with more items than this are tagged off the event loop. */
const ASYNC_ITEMS = 2048;

/** Checks that `items` is a list of items, each a list of [name, weight] attributes. */
export function validateItems(items: unknown, name = "items"): asserts items is NativeItem[] {
  if (!Array.isArray(items)) throw invalidArgument(name, "an array of items", items);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!Array.isArray(item)) throw invalidArgument(`${name}[${i}]`, "an array of [name, weight] attributes", item);
    for (let j = 0; j < item.length; j++) {
      const a = item[j];
      if (!Array.isArray(a) || typeof a[0] !== "string" || typeof a[1] !== "number" || !Number.isFinite(a[1])) {
        throw invalidArgument(`${name}[${i}][${j}]`, "a [string, finite number] attribute", a);
      }
    }
  }
}

/**
 * A CRFsuite model held in memory, ready to tag. Thread safety: the addon
 * serialises access to the tagger, so one CrfModel may be used by
 * concurrent requests.
 */
export class CrfModel {
  /** The model's labels, in model order. */
  readonly labels: string[];

  private constructor(
    private readonly tagger: NativeCrfTagger,
    /** The CRFsuite model file's bytes. */
    readonly bytes: Buffer,
  ) {
    this.labels = callNative(() => tagger.labels());
  }

  /**
   * Opens a model from CRFsuite model bytes (the addon keeps its own copy).
   * @throws MlBridgeError CRFSUITE_ERROR for bytes that are not a CRFsuite model.
   */
  static fromBuffer(bytes: Buffer): CrfModel {
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw invalidArgument("bytes", "a non-empty Buffer", bytes);
    const tagger = callNative(() => binding().CrfTagger.fromBuffer(bytes));
    return new CrfModel(tagger, bytes);
  }

  /** Opens a CRFsuite model file. */
  static async fromFile(file: string): Promise<CrfModel> {
    return CrfModel.fromBuffer(await readFile(file));
  }

  /** The attributes the model knows, in model order. */
  attributes(): string[] {
    return callNative(() => this.tagger.attributes());
  }

  /** Tags one sequence on the calling thread (fast for sentences). */
  tag(items: NativeItem[], options: TagOptions = {}): TagResult {
    validateItems(items);
    return callNative(() => this.tagger.tag(items, !!options.probability, !!options.marginals));
  }

  /** Tags many sequences; large batches run off the event loop. */
  async tagMany(sequences: NativeItem[][], options: TagOptions = {}): Promise<TagResult[]> {
    if (!Array.isArray(sequences)) throw invalidArgument("sequences", "an array of sequences", sequences);
    let items = 0;
    sequences.forEach((s, i) => {
      validateItems(s, `sequences[${i}]`);
      items += s.length;
    });
    const p = !!options.probability;
    const m = !!options.marginals;
    if (items <= ASYNC_ITEMS) return callNative(() => sequences.map((s) => this.tagger.tag(s, p, m)));
    return awaitNative(this.tagger.tagMany(sequences, p, m));
  }

  /** Probability of a given label path for a sequence. */
  probability(items: NativeItem[], labels: string[]): number {
    validateItems(items);
    if (!Array.isArray(labels) || labels.length !== items.length) throw invalidArgument("labels", `${items.length} labels`, labels);
    return callNative(() => this.tagger.probability(items, labels));
  }

  /** Frees the native tagger (deferred while a tagMany runs). Idempotent. */
  dispose(): void {
    this.tagger.dispose();
  }
}
