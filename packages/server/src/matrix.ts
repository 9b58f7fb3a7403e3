import type { DenseMatrix } from "./generated/mlbridge/v1/types";
import { invalid } from "./errors";

/**
 * Float32 matrices in `bytes` fields (`DenseMatrix.raw_values`, the Predict
 * response's `raw_values`): IEEE 754 float32, little-endian, row-major.
 * On a little-endian machine these are the bytes of a Float32Array, so
 * decoding and encoding cost at most one copy instead of work per value.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads little-endian float32 values from bytes whose length is a multiple
 * of 4. Returns a view sharing `bytes`' memory when its offset is 4-byte
 * aligned, else one copy (a Float32Array cannot start at an unaligned offset).
 */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >>> 2;
  if (!LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
  return out;
}

/** The little-endian bytes of float32 values: a view on `values` (no copy) on a little-endian machine. */
export function bytesFromFloat32(values: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * 4);
  return out;
}

/**
 * The rows × cols values of a dense matrix whose `rows` and `cols` were
 * checked, from whichever encoding it uses (`raw_values` when set, else `values`).
 * @throws INVALID_ARGUMENT naming the field when both encodings are given or
 *   the count (values) or length (bytes) is not rows × cols
 */
export function denseValues(m: DenseMatrix, field: string): Float32Array {
  const n = m.rows * m.cols;
  if (m.rawValues !== undefined) {
    if (m.values.length) throw invalid(`${field}.values`, `must be empty when raw_values is set (got ${m.values.length} values and ${m.rawValues.length} bytes): give one encoding`);
    if (m.rawValues.length !== n * 4) {
      throw invalid(`${field}.raw_values`, `expected rows × cols × 4 = ${n * 4} bytes (little-endian float32), got ${m.rawValues.length}`);
    }
    return float32FromBytes(m.rawValues);
  }
  if (m.values.length !== n) throw invalid(`${field}.values`, `expected rows × cols = ${n} values, got ${m.values.length}`);
  return Float32Array.from(m.values);
}

/** The values of a prediction as a response carries them: `raw_values` bytes when asked for, else `values`. */
export function responseValues(values: Float32Array, raw: boolean): { values: number[]; rawValues?: Buffer } {
  return raw ? { values: [], rawValues: bytesFromFloat32(values) } : { values: Array.from(values) };
}
