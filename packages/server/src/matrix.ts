/**
 * Float32 matrices in `bytes` fields (`DenseMatrix.raw_values`, the Predict
 * response's `raw_values`): IEEE 754 float32, little-endian, row-major (core's
 * data/float32.ts reads and writes them).
 */
import { bytesFromFloat32, type Float32Values } from "@mlbridge/core";
import type { DenseMatrix } from "./generated/mlbridge/v1/types";
import { invalid } from "./errors";

/**
 * The rows × cols values of a dense matrix whose `rows` and `cols` were
 * checked, from whichever encoding it uses: `raw_values` as the bytes
 * themselves (core's predict reads them where they lie; float32FromBytes makes
 * a Float32Array of them where one is needed), else `values`.
 * @throws INVALID_ARGUMENT naming the field when both encodings are given or
 *   the count (values) or length (bytes) is not rows × cols
 */
export function denseInput(m: DenseMatrix, field: string): Float32Values {
  const n = m.rows * m.cols;
  if (m.rawValues !== undefined) {
    if (m.values.length)
      throw invalid(
        `${field}.values`,
        `must be empty when raw_values is set (got ${m.values.length} values and ${m.rawValues.length} bytes): give one encoding`,
      );
    if (m.rawValues.length !== n * 4) {
      throw invalid(`${field}.raw_values`, `expected rows × cols × 4 = ${n * 4} bytes (little-endian float32), got ${m.rawValues.length}`);
    }
    return m.rawValues;
  }
  if (m.values.length !== n) throw invalid(`${field}.values`, `expected rows × cols = ${n} values, got ${m.values.length}`);
  return Float32Array.from(m.values);
}

/** The values of a prediction as a response carries them: `raw_values` bytes when asked for, else `values`. */
export function responseValues(values: Float32Array, raw: boolean): { values: number[]; rawValues?: Buffer } {
  return raw ? { values: [], rawValues: bytesFromFloat32(values) } : { values: Array.from(values) };
}
