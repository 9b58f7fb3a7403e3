package dev.mlbridge.client;

import com.google.protobuf.ByteString;
import inference.GrpcPredictV2.InferTensorContents;
import inference.GrpcPredictV2.ModelInferRequest.InferInputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One input tensor of an {@link InferenceClient#infer} request: a name, an Open Inference Protocol
 * datatype ({@code FP32}, {@code FP64}, {@code INT64} or {@code BYTES}), a shape and its elements,
 * row-major. The element count must be the product of the shape (checked here, as an {@link
 * IllegalArgumentException}); the model's own expectations (names, feature counts) are the server's
 * to check.
 *
 * <pre>{@code
 * InferInput.fp32("input", new float[][] {{5.1f, 3.5f, 1.4f, 0.2f}})           // shape [1, 4]
 * InferInput.fp32("input", new float[] {5.1f, 3.5f, 1.4f, 0.2f}, 1, 4)
 * InferInput.strings("attributes", new String[] {"thousand\tof", "of\tdemonstr"}, 2)
 * }</pre>
 *
 * <p>Instances are immutable (the arrays are copied).
 */
public final class InferInput {
  private final String name;
  private final String datatype;
  private final long[] shape;
  private final float[] fp32;
  private final double[] fp64;
  private final long[] int64;
  private final byte[][] bytes;

  private InferInput(
      String name,
      String datatype,
      long[] shape,
      int count,
      float[] fp32,
      double[] fp64,
      long[] int64,
      byte[][] bytes) {
    this.name = Objects.requireNonNull(name, "name");
    this.datatype = datatype;
    this.shape = Objects.requireNonNull(shape, "shape").clone();
    long n = 1;
    for (int i = 0; i < this.shape.length; i++) {
      if (this.shape[i] < 0) {
        throw new IllegalArgumentException(
            name + ": shape[" + i + "] must not be negative, got " + this.shape[i]);
      }
      n = Math.multiplyExact(n, this.shape[i]);
    }
    if (n != count) {
      throw new IllegalArgumentException(
          name
              + ": shape "
              + Arrays.toString(this.shape)
              + " needs "
              + n
              + " elements, got "
              + count);
    }
    this.fp32 = fp32;
    this.fp64 = fp64;
    this.int64 = int64;
    this.bytes = bytes;
  }

  /** An {@code FP32} tensor of {@code values} (row-major) with {@code shape}. */
  public static InferInput fp32(String name, float[] values, long... shape) {
    float[] v = values.clone();
    return new InferInput(name, "FP32", shape, v.length, v, null, null, null);
  }

  /** An {@code FP32} matrix: shape {@code [rows, cols]}; every row must have the same length. */
  public static InferInput fp32(String name, float[][] rows) {
    int cols = rows.length == 0 ? 0 : rows[0].length;
    float[] v = new float[Math.multiplyExact(rows.length, cols)];
    for (int r = 0; r < rows.length; r++) {
      if (rows[r].length != cols) {
        throw new IllegalArgumentException(
            name + ": row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
      }
      System.arraycopy(rows[r], 0, v, r * cols, cols);
    }
    return new InferInput(
        name, "FP32", new long[] {rows.length, cols}, v.length, v, null, null, null);
  }

  /** An {@code FP64} tensor of {@code values} (row-major) with {@code shape}. */
  public static InferInput fp64(String name, double[] values, long... shape) {
    double[] v = values.clone();
    return new InferInput(name, "FP64", shape, v.length, null, v, null, null);
  }

  /** An {@code INT64} tensor of {@code values} (row-major) with {@code shape}. */
  public static InferInput int64(String name, long[] values, long... shape) {
    long[] v = values.clone();
    return new InferInput(name, "INT64", shape, v.length, null, null, v, null);
  }

  /** A {@code BYTES} tensor: each element a byte string. */
  public static InferInput bytes(String name, byte[][] values, long... shape) {
    byte[][] v = new byte[values.length][];
    for (int i = 0; i < v.length; i++) {
      int at = i;
      v[i] = Objects.requireNonNull(values[i], () -> name + ": element " + at).clone();
    }
    return new InferInput(name, "BYTES", shape, v.length, null, null, null, v);
  }

  /** A {@code BYTES} tensor of strings, each sent as UTF-8. */
  public static InferInput strings(String name, String[] values, long... shape) {
    byte[][] v = new byte[values.length][];
    for (int i = 0; i < v.length; i++) {
      int at = i;
      v[i] =
          Objects.requireNonNull(values[i], () -> name + ": element " + at)
              .getBytes(StandardCharsets.UTF_8);
    }
    return new InferInput(name, "BYTES", shape, v.length, null, null, null, v);
  }

  /** A one-dimensional {@code BYTES} tensor of strings (shape {@code [values.length]}). */
  public static InferInput strings(String name, String... values) {
    return strings(name, values, values.length);
  }

  public String name() {
    return name;
  }

  /** The protocol's datatype: {@code FP32}, {@code FP64}, {@code INT64} or {@code BYTES}. */
  public String datatype() {
    return datatype;
  }

  /** The shape (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /** The tensor's header: name, datatype, shape; no contents. */
  InferInputTensor.Builder header() {
    InferInputTensor.Builder b = InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
    for (long d : shape) {
      b.addShape(d);
    }
    return b;
  }

  /** The tensor with typed {@code contents}. */
  InferInputTensor typed() {
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    if (fp32 != null) {
      for (float f : fp32) {
        c.addFp32Contents(f);
      }
    } else if (fp64 != null) {
      for (double d : fp64) {
        c.addFp64Contents(d);
      }
    } else if (int64 != null) {
      for (long l : int64) {
        c.addInt64Contents(l);
      }
    } else {
      for (byte[] b : bytes) {
        c.addBytesContents(ByteString.copyFrom(b));
      }
    }
    return header().setContents(c).build();
  }

  /**
   * The elements in the protocol's raw layout: little-endian, row-major; a {@code BYTES} element is
   * its length (4 bytes, little-endian) and its bytes.
   */
  ByteString raw() {
    ByteBuffer buf;
    if (fp32 != null) {
      buf = allocate(fp32.length * 4L);
      buf.asFloatBuffer().put(fp32);
    } else if (fp64 != null) {
      buf = allocate(fp64.length * 8L);
      buf.asDoubleBuffer().put(fp64);
    } else if (int64 != null) {
      buf = allocate(int64.length * 8L);
      buf.asLongBuffer().put(int64);
    } else {
      long size = 0;
      for (byte[] b : bytes) {
        size += 4L + b.length;
      }
      buf = allocate(size);
      for (byte[] b : bytes) {
        buf.putInt(b.length).put(b);
      }
      buf.rewind();
    }
    return ByteString.copyFrom(buf);
  }

  private ByteBuffer allocate(long size) {
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + ": " + size + " bytes is too large for one tensor");
    }
    return ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public String toString() {
    return "InferInput{" + name + ", " + datatype + ", " + Arrays.toString(shape) + "}";
  }
}
