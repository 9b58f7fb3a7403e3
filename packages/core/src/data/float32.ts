/**
 * Float32 values as bytes: IEEE 754 float32, little-endian, row-major, the
 * form of protobuf `bytes` fields such as `DenseMatrix.raw_values`. On a
 * little-endian machine these are the bytes of a Float32Array, so reading
 * and writing them costs at most one copy instead of work per value.
 */

/** True on little-endian machines (every platform the addon is built for, in practice). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Float32 input values: a Float32Array, or a Uint8Array (a Buffer, a protobuf
 * `bytes` field) holding them as little-endian float32 bytes, 4 per value, at
 * any byte offset. Bytes are read where they lie: the addon copies them once
 * where it needs its own copy, and JS never does.
 */
export type Float32Values = Float32Array | Uint8Array;

/** Number of values in `values` (bytes: byteLength / 4; callers check that it divides). */
export function float32Count(values: Float32Values): number {
  return values instanceof Float32Array ? values.length : values.byteLength >>> 2;
}

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
 * The values as the addon reads them: Float32Arrays as they are, bytes as
 * they are on little-endian machines (converted elsewhere).
 */
export function nativeFloat32(values: Float32Values): Float32Values {
  return values instanceof Float32Array || LITTLE_ENDIAN ? values : float32FromBytes(values);
}
