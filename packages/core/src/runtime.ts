/**
 * The contract of a model kind: what the server's store, ModelService and the
 * Open Inference Protocol need of a library, and nothing of the transport.
 * Each kind implements it beside its own code (crf/runtime.ts,
 * xgboost/runtime.ts); the server dispatches through a registry of them
 * (packages/server/src/runtimes.ts), so that a third library is one more
 * runtime and one line there. docs/architecture.md walks through adding one.
 */
import type { CrfFeatureTemplate } from "./crf/features";
import { InvalidInputError } from "./errors";
import type { Float32Values } from "./data/float32";

/** A model in memory. */
export interface RuntimeModel {
  /** Frees the native model (deferred by the addon while a call uses it). */
  dispose(): void;
}

/** What a runtime reads of a stored model's metadata. */
export interface RuntimeMeta {
  name: string;
  labels: string[];
  featureNames: string[];
  /** CRF: the template CSV prediction and the `tokens` tensor build attributes with. */
  featureTemplate?: CrfFeatureTemplate;
}

/** An input or output tensor's name, datatype and shape (-1: any) in model metadata. */
export interface TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
}

/**
 * One input tensor of an inference request, decoded on demand by the
 * transport (typed contents, raw little-endian bytes or JSON). Each reader
 * checks the datatype and the element count against the shape, and throws
 * INVALID_ARGUMENT naming `field`.
 */
export interface TensorInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  /** Where the tensor is in the request (`inputs[0]`), for messages. */
  readonly field: string;
  /** Checks the datatype against those accepted; returns it. */
  checkDatatype(accepted: string[]): string;
  /** The element count of the shape (every dimension checked >= 0). */
  count(): number;
  /** FP32 or FP64 values as float32. */
  floats(): Float32Values;
  /** Integer values (INT8 … UINT64). */
  integers(): number[];
  /** BYTES elements as UTF-8 strings. */
  strings(): string[];
}

/** An output tensor, before the transport encodes it. */
export interface TensorOutput {
  name: string;
  shape: number[];
  data:
    | { datatype: "FP32"; values: Float32Array }
    | { datatype: "FP64"; values: Float64Array }
    | { datatype: "INT64"; values: number[] }
    | { datatype: "BYTES"; values: string[] };
  parameters?: Record<string, string>;
}

/** Outputs a request names: `name` and where it is (`outputs[0]`). */
export interface RequestedOutput {
  name: string;
  field: string;
}

/** A model made from bytes a caller sent, checked, with what the store keeps beside its bytes. */
export interface ImportedModel<M extends RuntimeModel> {
  model: M;
  /** The bytes to store (the kind's stored format; may differ from those sent). */
  bytes: Buffer;
  format: string;
  parameters: Record<string, string>;
  labels: string[];
  featureNames: string[];
  featureTemplate?: CrfFeatureTemplate;
}

/** Options of an import, as the caller gave them. */
export interface ImportOptions {
  /** Class names to attach (XGBoost classifiers). */
  classNames?: string[];
  /** The feature template to predict CSV and `tokens` with (CRF). */
  featureTemplate?: CrfFeatureTemplate;
}

/** One model kind. `M` is its in-memory model. */
export interface ModelRuntime<M extends RuntimeModel = RuntimeModel> {
  /** The kind's name in the store and the API (`crf`, `xgboost`). */
  readonly kind: string;
  /** The platform the Open Inference Protocol's ModelMetadata reports. */
  readonly platform: string;
  /** Formats a model of this kind is imported from and exported to (`xgboost-json`, …); the first is the default export. */
  readonly formats: readonly string[];
  /** Builds the model from bytes the store wrote (checksummed: trusted). */
  load(bytes: Buffer): M;
  /**
   * Builds the model from bytes a caller sent (untrusted: one defence,
   * whatever it takes) in `format` (undefined: detect).
   * @throws InvalidInputError when they are not a model of this kind
   */
  import(bytes: Buffer, format: string | undefined, options: ImportOptions): Promise<ImportedModel<M>>;
  /** The model's bytes in `format` (one of `formats`); `stored` are its stored bytes. */
  export(model: () => Promise<M>, stored: () => Promise<Buffer>, format: string): Promise<Buffer>;
  /** The inputs and outputs of ModelMetadata; `model` loads the model when the answer needs it. */
  describe(meta: RuntimeMeta, model: () => Promise<M>): Promise<{ inputs: TensorSpec[]; outputs: TensorSpec[] }>;
  /**
   * Runs an inference request: checks the inputs (named by their field),
   * computes the requested outputs (none: the kind's defaults).
   */
  infer(model: M, meta: RuntimeMeta, inputs: TensorInput[], outputs: RequestedOutput[]): Promise<TensorOutput[]>;
}

/** INVALID_ARGUMENT naming a field, as every layer words it (`field: what`). */
export const invalidField = (field: string, what: string): InvalidInputError => new InvalidInputError(`${field}: ${what}`);

/** A value of the caller's, quoted for a message: JSON, cut to `max` characters with the length said. */
export function quoted(value: unknown, max = 64): string {
  const s = typeof value === "string" ? value : String(value);
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)` : JSON.stringify(s);
}

/**
 * The requested output names (in request order, each once), or `defaults`
 * when none were requested.
 * @throws InvalidInputError naming the output not among `available`
 */
export function requestedOutputs(requested: RequestedOutput[], modelName: string, available: string[], defaults: string[], what = ""): string[] {
  if (requested.length === 0) return defaults;
  const names: string[] = [];
  for (const o of requested) {
    if (!available.includes(o.name))
      throw invalidField(`${o.field}.name`, `model '${modelName}'${what} has no output ${quoted(o.name)} (its outputs: ${available.join(", ")})`);
    if (!names.includes(o.name)) names.push(o.name);
  }
  return names;
}

/** The runtimes a server serves, by kind. */
export class RuntimeRegistry {
  private readonly byKind = new Map<string, ModelRuntime>();

  constructor(runtimes: ModelRuntime[] = []) {
    for (const r of runtimes) this.register(r);
  }

  /** Adds a runtime. @throws Error when its kind is taken */
  register(runtime: ModelRuntime): void {
    if (this.byKind.has(runtime.kind)) throw new Error(`a runtime for kind '${runtime.kind}' is already registered`);
    this.byKind.set(runtime.kind, runtime);
  }

  /** The runtime of `kind`. @throws Error for a kind no runtime serves (a store written by another build) */
  get(kind: string): ModelRuntime {
    const r = this.byKind.get(kind);
    if (!r) throw new Error(`no runtime serves models of kind '${kind}' (known: ${this.kinds().join(", ")})`);
    return r;
  }

  has(kind: string): boolean {
    return this.byKind.has(kind);
  }

  /** The kinds served, in registration order. */
  kinds(): string[] {
    return [...this.byKind.keys()];
  }
}
