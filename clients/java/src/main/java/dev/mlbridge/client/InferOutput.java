package dev.mlbridge.client;

import com.google.protobuf.ByteString;
import inference.GrpcPredictV2.InferParameter;
import inference.GrpcPredictV2.InferTensorContents;
import inference.GrpcPredictV2.ModelInferResponse.InferOutputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One output tensor of an {@link InferResult}: name, datatype, shape, and its elements read back
 * typed, whether the server sent them in typed {@code contents} or in {@code raw_output_contents}.
 * Each {@code as...} method returns a new array, row-major; asking for a type the datatype cannot
 * give is an {@link IllegalStateException} naming both.
 */
public final class InferOutput {
  private final InferOutputTensor tensor;
  private final ByteString raw; // null: typed contents

  InferOutput(InferOutputTensor tensor, ByteString raw) {
    this.tensor = tensor;
    this.raw = raw;
  }

  public String name() {
    return tensor.getName();
  }

  /** The protocol's datatype, e.g. {@code FP32}, {@code INT64}, {@code BYTES}. */
  public String datatype() {
    return tensor.getDatatype();
  }

  /** The shape (a copy). */
  public long[] shape() {
    long[] s = new long[tensor.getShapeCount()];
    for (int i = 0; i < s.length; i++) {
      s[i] = tensor.getShape(i);
    }
    return s;
  }

  /**
   * The tensor's parameters (mlbridge sends {@code class_names} with XGBoost classifiers' outputs,
   * {@code labels} with CRF marginals: JSON arrays as strings).
   */
  public Map<String, InferParameter> parameters() {
    return tensor.getParametersMap();
  }

  /** The tensor as received (without the raw bytes, which the response holds apart). */
  public InferOutputTensor tensor() {
    return tensor;
  }

  /** {@code FP32} elements. */
  public float[] asFloats() {
    require("asFloats", "FP32");
    if (raw != null) {
      float[] out = new float[count(4)];
      le().asFloatBuffer().get(out);
      return out;
    }
    InferTensorContents c = tensor.getContents();
    float[] out = new float[c.getFp32ContentsCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.getFp32Contents(i);
    }
    return out;
  }

  /** {@code FP64} elements, or {@code FP32} ones widened. */
  public double[] asDoubles() {
    if ("FP32".equals(datatype())) {
      float[] f = asFloats();
      double[] out = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        out[i] = f[i];
      }
      return out;
    }
    require("asDoubles", "FP64", "FP32");
    if (raw != null) {
      double[] out = new double[count(8)];
      le().asDoubleBuffer().get(out);
      return out;
    }
    InferTensorContents c = tensor.getContents();
    double[] out = new double[c.getFp64ContentsCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.getFp64Contents(i);
    }
    return out;
  }

  /**
   * Integer elements: {@code INT64}, or {@code INT8}/{@code INT16}/{@code INT32}/{@code
   * UINT8}/{@code UINT16}/{@code UINT32} widened ({@code UINT64} as the same 64 bits).
   */
  public long[] asLongs() {
    String dt = datatype();
    int size;
    switch (dt) {
      case "INT8":
      case "UINT8":
        size = 1;
        break;
      case "INT16":
      case "UINT16":
        size = 2;
        break;
      case "INT32":
      case "UINT32":
        size = 4;
        break;
      case "INT64":
      case "UINT64":
        size = 8;
        break;
      default:
        throw new IllegalStateException(
            "asLongs: output '" + name() + "' is " + dt + ", not an integer datatype");
    }
    boolean unsigned = dt.startsWith("U");
    if (raw != null) {
      long[] out = new long[count(size)];
      ByteBuffer b = le();
      for (int i = 0; i < out.length; i++) {
        switch (size) {
          case 1:
            out[i] = unsigned ? Byte.toUnsignedLong(b.get()) : b.get();
            break;
          case 2:
            out[i] = unsigned ? Short.toUnsignedLong(b.getShort()) : b.getShort();
            break;
          case 4:
            out[i] = unsigned ? Integer.toUnsignedLong(b.getInt()) : b.getInt();
            break;
          default:
            out[i] = b.getLong();
        }
      }
      return out;
    }
    InferTensorContents c = tensor.getContents();
    long[] out;
    if (size == 8) {
      out = new long[unsigned ? c.getUint64ContentsCount() : c.getInt64ContentsCount()];
      for (int i = 0; i < out.length; i++) {
        out[i] = unsigned ? c.getUint64Contents(i) : c.getInt64Contents(i);
      }
    } else if (unsigned) {
      out = new long[c.getUintContentsCount()];
      for (int i = 0; i < out.length; i++) {
        out[i] = Integer.toUnsignedLong(c.getUintContents(i));
      }
    } else {
      out = new long[c.getIntContentsCount()];
      for (int i = 0; i < out.length; i++) {
        out[i] = c.getIntContents(i);
      }
    }
    return out;
  }

  /** {@code BYTES} elements. */
  public byte[][] asBytes() {
    require("asBytes", "BYTES");
    if (raw != null) {
      ByteBuffer b = le();
      List<byte[]> out = new ArrayList<>();
      while (b.hasRemaining()) {
        if (b.remaining() < 4) {
          throw malformed("a truncated element length");
        }
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
          throw malformed("element " + out.size() + " of " + n + " bytes past the end");
        }
        byte[] e = new byte[n];
        b.get(e);
        out.add(e);
      }
      return out.toArray(new byte[0][]);
    }
    InferTensorContents c = tensor.getContents();
    byte[][] out = new byte[c.getBytesContentsCount()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.getBytesContents(i).toByteArray();
    }
    return out;
  }

  /** {@code BYTES} elements decoded as UTF-8. */
  public String[] asStrings() {
    byte[][] b = asBytes();
    String[] out = new String[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = new String(b[i], StandardCharsets.UTF_8);
    }
    return out;
  }

  private void require(String method, String... datatypes) {
    if (!Arrays.asList(datatypes).contains(datatype())) {
      throw new IllegalStateException(
          method
              + ": output '"
              + name()
              + "' is "
              + datatype()
              + ", not "
              + String.join(" or ", datatypes));
    }
  }

  private ByteBuffer le() {
    return raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  private int count(int size) {
    if (raw.size() % size != 0) {
      throw malformed(raw.size() + " raw bytes, not a multiple of " + size);
    }
    return raw.size() / size;
  }

  private IllegalStateException malformed(String what) {
    return new IllegalStateException(
        "output '" + name() + "' (" + datatype() + "): malformed raw contents: " + what);
  }

  @Override
  public String toString() {
    return "InferOutput{" + name() + ", " + datatype() + ", " + Arrays.toString(shape()) + "}";
  }
}
