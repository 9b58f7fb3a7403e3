import { readFile } from "node:fs/promises";
import { binding, type NativeCrfTagger, type NativeItem, type NativePackedTagResult, type PackedSequences } from "../binding";
import { awaitNative, callNative, invalidArgument } from "../errors";
import { packSequences, validateItems } from "./packed";

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

/** Result of tagging packed sequences: label indices (into `CrfModel.labels`) and, when asked, probabilities and marginals, flat. */
export type PackedTagResult = NativePackedTagResult;

/** Batches with more items than this are tagged off the event loop. */
const ASYNC_ITEMS = 2048;

/**
 * A CRFsuite model held in memory, ready to tag. Thread safety: each call
 * tags with a CRFsuite tagger of its own (the addon keeps a pool per model),
 * so one CrfModel serves concurrent requests, large batches on several
 * threads at once.
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
    const packed = packSequences(sequences);
    const r = await this.tagPacked(packed, options);
    const labels = this.labels;
    const L = labels.length;
    const out = new Array<TagResult>(sequences.length);
    let first = 0;
    for (let i = 0; i < sequences.length; i++) {
      const n = packed.sequenceLengths[i];
      const path = new Array<string>(n);
      for (let t = 0; t < n; t++) path[t] = labels[r.paths[first + t]];
      const res: TagResult = { labels: path };
      if (r.probabilities) res.probability = r.probabilities[i];
      if (r.marginals) res.marginals = r.marginals.subarray(first * L, (first + n) * L);
      out[i] = res;
      first += n;
    }
    return out;
  }

  /**
   * Tags packed sequences (see `packSequences`, or the API's
   * `CrfPackedSequences`); large batches run off the event loop.
   * @throws INVALID_ARGUMENT naming the field and position (`packed.attributeNames: attribute 7 (sequence 1, item 2, attribute 0) ...`).
   */
  async tagPacked(packed: PackedSequences, options: TagOptions = {}): Promise<PackedTagResult> {
    if (packed === null || typeof packed !== "object") throw invalidArgument("packed", "a PackedSequences object", packed);
    const p = !!options.probability;
    const m = !!options.marginals;
    const items = packed.itemAttributeCounts?.length ?? 0;
    if (items <= ASYNC_ITEMS) return callNative(() => this.tagger.tagPacked(packed, p, m));
    return awaitNative(this.tagger.tagPackedAsync(packed, p, m));
  }

  /** Probability of a given label path for a sequence. */
  probability(items: NativeItem[], labels: string[]): number {
    validateItems(items);
    if (!Array.isArray(labels) || labels.length !== items.length) throw invalidArgument("labels", `${items.length} labels`, labels);
    return callNative(() => this.tagger.probability(items, labels));
  }

  /** Frees the native tagger (deferred while a batch is tagged off the event loop). Idempotent. */
  dispose(): void {
    this.tagger.dispose();
  }
}
