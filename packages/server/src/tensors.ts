import type {
  InferParameter,
  InferTensorContents,
  ModelInferRequest_InferInputTensor as InputTensor,
  ModelInferResponse_InferOutputTensor as OutputTensor,
} from "./generated/inference/grpc_predict_v2";
import { invalid, quote } from "./errors";
import { bytesFromFloat32, type Float32Values, type TensorInput, type TensorOutput } from "@mlbridge/core";

/**
 * Open Inference Protocol tensors: checks and decodes input tensors given in
 * typed `contents` or in `raw_input_contents` (little-endian, row-major; BYTES
 * elements as a 4-byte little-endian length then the bytes, as Triton does),
 * and encodes output tensors the same way.
 */

/** Element sizes of the fixed-size datatypes mlbridge reads or writes. */
const SIZES: Record<string, number> = {
  BOOL: 1,
  INT8: 1,
  UINT8: 1,
  INT16: 2,
  UINT16: 2,
  FP16: 2,
  BF16: 2,
  INT32: 4,
  UINT32: 4,
  FP32: 4,
  INT64: 8,
  UINT64: 8,
  FP64: 8,
};

/** Which `contents` field holds each datatype. */
const CONTENTS: Record<string, keyof InferTensorContents> = {
  BOOL: "boolContents",
  INT8: "intContents",
  INT16: "intContents",
  INT32: "intContents",
  INT64: "int64Contents",
  UINT8: "uintContents",
  UINT16: "uintContents",
  UINT32: "uintContents",
  UINT64: "uint64Contents",
  FP32: "fp32Contents",
  FP64: "fp64Contents",
  BYTES: "bytesContents",
};

const SNAKE: Record<keyof InferTensorContents, string> = {
  boolContents: "bool_contents",
  intContents: "int_contents",
  int64Contents: "int64_contents",
  uintContents: "uint_contents",
  uint64Contents: "uint64_contents",
  fp32Contents: "fp32_contents",
  fp64Contents: "fp64_contents",
  bytesContents: "bytes_contents",
};

/** An input tensor of a request with its raw bytes, if the request used `raw_input_contents`. */
export interface Input {
  tensor: InputTensor;
  /** `inputs[i]`, for messages. */
  field: string;
  /** `raw_input_contents[i]`, for messages. */
  rawField: string;
  raw?: Uint8Array;
}

/**
 * Pairs a request's inputs with their raw contents.
 * @throws INVALID_ARGUMENT when raw and typed contents are mixed, or counts disagree
 */
export function requestInputs(inputs: InputTensor[], raw: Uint8Array[]): Input[] {
  if (raw.length && raw.length !== inputs.length) {
    throw invalid("raw_input_contents", `give one entry per input tensor (${inputs.length}), got ${raw.length}`);
  }
  return inputs.map((tensor, i) => {
    const field = `inputs[${i}]`;
    if (raw.length && tensor.contents && Object.values(tensor.contents).some((v: unknown[]) => v.length)) {
      throw invalid(`${field}.contents`, "must be empty when raw_input_contents is used");
    }
    return { tensor, field, rawField: `raw_input_contents[${i}]`, raw: raw.length ? raw[i] : undefined };
  });
}

/** Checks a tensor's shape (every dimension >= 0); returns its element count. */
export function elementCount(input: Input): number {
  const { shape } = input.tensor;
  let n = 1;
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) throw invalid(`${input.field}.shape[${i}]`, `must be a non-negative integer, got ${d}`);
    n *= d;
  });
  if (!Number.isSafeInteger(n)) throw invalid(`${input.field}.shape`, `[${shape.join(", ")}] is too large`);
  return n;
}

/** Checks the datatype against those accepted. */
export function checkDatatype(input: Input, accepted: string[]): string {
  const dt = input.tensor.datatype;
  if (!accepted.includes(dt)) {
    throw invalid(`${input.field}.datatype`, `tensor '${input.tensor.name}' must be ${accepted.join(" or ")}, got ${quote(dt)}`);
  }
  return dt;
}

/** The typed contents of a tensor, checking that no other typed field is set. */
function typed(input: Input, count: number): unknown[] {
  const key = CONTENTS[input.tensor.datatype];
  const c = input.tensor.contents;
  for (const [k, v] of Object.entries(c ?? {}) as [keyof InferTensorContents, unknown[]][]) {
    if (k !== key && v.length) {
      throw invalid(`${input.field}.contents.${SNAKE[k]}`, `set for a ${input.tensor.datatype} tensor (which uses ${SNAKE[key]})`);
    }
  }
  const values = (c?.[key] ?? []) as unknown[];
  if (values.length !== count) {
    throw invalid(`${input.field}.contents.${SNAKE[key]}`, `shape [${input.tensor.shape.join(", ")}] needs ${count} values, got ${values.length}`);
  }
  return values;
}

function rawView(input: Input, count: number): DataView {
  const raw = input.raw!;
  const size = SIZES[input.tensor.datatype];
  if (raw.length !== count * size) {
    throw invalid(input.rawField, `shape [${input.tensor.shape.join(", ")}] of ${input.tensor.datatype} needs ${count * size} bytes, got ${raw.length}`);
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * The values of an FP32 or FP64 tensor as float32 (what XGBoost computes with);
 * raw FP32 contents stay bytes, which core's predict reads in place.
 */
export function readFloats(input: Input, count: number): Float32Values {
  const dt = checkDatatype(input, ["FP32", "FP64"]);
  if (!input.raw) return Float32Array.from(typed(input, count) as number[]);
  const view = rawView(input, count);
  if (dt === "FP32") return input.raw!;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** The values of an integer tensor (INT8 … INT64, UINT8 … UINT64). */
export function readIntegers(input: Input, count: number): number[] {
  const dt = checkDatatype(input, ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]);
  if (!input.raw) return typed(input, count) as number[];
  const view = rawView(input, count);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    switch (dt) {
      case "INT8":
        out[i] = view.getInt8(i);
        break;
      case "UINT8":
        out[i] = view.getUint8(i);
        break;
      case "INT16":
        out[i] = view.getInt16(i * 2, true);
        break;
      case "UINT16":
        out[i] = view.getUint16(i * 2, true);
        break;
      case "INT32":
        out[i] = view.getInt32(i * 4, true);
        break;
      case "UINT32":
        out[i] = view.getUint32(i * 4, true);
        break;
      case "INT64":
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      default:
        out[i] = Number(view.getBigUint64(i * 8, true));
    }
  }
  return out;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The elements of a BYTES tensor, decoded as UTF-8. */
export function readStrings(input: Input, count: number): string[] {
  checkDatatype(input, ["BYTES"]);
  let elements: Uint8Array[];
  if (!input.raw) {
    elements = typed(input, count) as Uint8Array[];
  } else {
    const raw = input.raw;
    const lengths = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const at = input.rawField;
    elements = [];
    let p = 0;
    while (p < raw.length) {
      if (p + 4 > raw.length) throw invalid(at, `element ${elements.length}: truncated 4-byte length at byte ${p}`);
      const len = lengths.getUint32(p, true);
      p += 4;
      if (p + len > raw.length) throw invalid(at, `element ${elements.length}: length ${len} runs past the end (${raw.length - p} bytes left)`);
      elements.push(raw.subarray(p, p + len));
      p += len;
    }
    if (elements.length !== count) {
      throw invalid(at, `shape [${input.tensor.shape.join(", ")}] needs ${count} length-prefixed elements, got ${elements.length}`);
    }
  }
  return elements.map((e, i) => {
    try {
      return UTF8.decode(e);
    } catch {
      throw invalid(`${input.field}`, `element ${i} is not valid UTF-8`);
    }
  });
}

/** An output tensor to send (a runtime's). */
export type Output = TensorOutput;

/** An input as a runtime reads it: decoded on demand, checked against its shape. */
export function tensorInput(input: Input): TensorInput {
  const t = input.tensor;
  return {
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    field: input.field,
    checkDatatype: (accepted) => checkDatatype(input, accepted),
    count: () => elementCount(input),
    floats: () => readFloats(input, elementCount(input)),
    integers: () => readIntegers(input, elementCount(input)),
    strings: () => readStrings(input, elementCount(input)),
  };
}

/** An output's values as raw little-endian bytes (BYTES: 4-byte length, then the bytes, per element). */
export function rawBytes(o: Output): Buffer {
  const d = o.data;
  switch (d.datatype) {
    case "FP32":
      return bytesFromFloat32(d.values);
    case "FP64": {
      const b = Buffer.allocUnsafe(d.values.length * 8);
      d.values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
      return b;
    }
    case "INT64": {
      const b = Buffer.allocUnsafe(d.values.length * 8);
      d.values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), i * 8));
      return b;
    }
    case "BYTES": {
      const parts = d.values.map((s) => Buffer.from(s, "utf8"));
      const b = Buffer.allocUnsafe(parts.reduce((n, p) => n + 4 + p.length, 0));
      let at = 0;
      for (const p of parts) {
        b.writeUInt32LE(p.length, at);
        p.copy(b, at + 4);
        at += 4 + p.length;
      }
      return b;
    }
  }
}

/** Typed contents with every field empty (ts-proto's messages want every field). */
export function emptyContents(): InferTensorContents {
  return { boolContents: [], intContents: [], int64Contents: [], uintContents: [], uint64Contents: [], fp32Contents: [], fp64Contents: [], bytesContents: [] };
}

function contents(o: Output): InferTensorContents {
  const c = emptyContents();
  const d = o.data;
  if (d.datatype === "FP32") c.fp32Contents = Array.from(d.values);
  else if (d.datatype === "FP64") c.fp64Contents = Array.from(d.values);
  else if (d.datatype === "INT64") c.int64Contents = d.values;
  else c.bytesContents = d.values.map((s) => Buffer.from(s, "utf8"));
  return c;
}

/** Encodes outputs as typed contents, or as raw_output_contents when `raw`. */
export function encodeOutputs(outputs: Output[], raw: boolean): { outputs: OutputTensor[]; rawOutputContents: Buffer[] } {
  return {
    outputs: outputs.map((o) => ({
      name: o.name,
      datatype: o.data.datatype,
      shape: o.shape,
      parameters: Object.fromEntries(
        Object.entries(o.parameters ?? {}).map(([k, v]): [string, InferParameter] => [k, { parameterChoice: { $case: "stringParam", value: v } }]),
      ),
      contents: raw ? undefined : contents(o),
    })),
    rawOutputContents: raw ? outputs.map(rawBytes) : [],
  };
}
