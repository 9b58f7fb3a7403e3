package dev.mlbridge.client;

import com.google.protobuf.UnsafeByteOperations;
import dev.mlbridge.v1.CrfLabelledSequences;
import dev.mlbridge.v1.CrfPackedSequences;
import dev.mlbridge.v1.CrfPackedTags;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalDouble;

/**
 * {@link ItemSequence}s to and from the CRF wire form: {@link CrfPackedSequences} (every attribute
 * name NUL-terminated in one byte string, plus three number lists; no message per sequence, item or
 * attribute), {@link CrfLabelledSequences} for training, and {@link CrfPackedTags} back to {@link
 * TaggedSequence}s. As the Python client's {@code _crf_wire}, it refuses only what the wire form
 * cannot carry: a NUL in a name (the separator), an unpaired surrogate (which UTF-8 cannot encode;
 * Java would send {@code ?} instead), and labels that are not one per item (they would shift onto
 * other items). Empty names or labels and weights that are not finite are the server's to refuse,
 * once, naming the position. Refusals here are {@link IllegalArgumentException}s naming the
 * position, e.g. {@code sequences[2][0]} (item 0 of the third sequence).
 */
final class CrfPacking {
  /**
   * A training message is closed once it holds this many attributes (~1 MiB with the book's
   * features), as the Python client's {@code ATTRIBUTES_PER_MESSAGE}; the server hands them on to
   * its training process in smaller parts as they arrive.
   */
  static final int BATCH_ATTRIBUTES = 64 * 1024;

  /** ...or this many items: bounds a message of items with few or no attributes. */
  static final int BATCH_ITEMS = 64 * 1024;

  private CrfPacking() {}

  /** Packs sequences to tag; {@code what} names them in errors (e.g. {@code sequences}). */
  static CrfPackedSequences pack(List<ItemSequence> sequences, String what) {
    Packer p = new Packer(false);
    int i = 0;
    for (ItemSequence s : sequences) {
      p.add(s, what, i++);
    }
    return p.packed();
  }

  /**
   * Training sequences in batches ({@link #BATCH_ATTRIBUTES}, {@link #BATCH_ITEMS}), packed lazily
   * as they are taken: none when there are no sequences. A sequence's position in errors counts
   * from the first of {@code sequences}.
   */
  static Iterator<CrfLabelledSequences> labelledBatches(
      Iterable<ItemSequence> sequences, String what) {
    Iterator<ItemSequence> source = sequences.iterator();
    return new Iterator<CrfLabelledSequences>() {
      private int index;

      @Override
      public boolean hasNext() {
        return source.hasNext();
      }

      @Override
      public CrfLabelledSequences next() {
        if (!source.hasNext()) {
          throw new NoSuchElementException();
        }
        Packer p = new Packer(true);
        do {
          p.add(source.next(), what, index++);
        } while (source.hasNext() && p.attributes < BATCH_ATTRIBUTES && p.items < BATCH_ITEMS);
        return p.labelled();
      }
    };
  }

  /**
   * The tagged sequences of a response: {@code packed} split by the request's {@code
   * sequenceLengths}, label indices resolved through {@code labels} (the model's labels).
   *
   * @throws MlBridgeException INTERNAL when the response does not fit the request
   */
  static List<TaggedSequence> unpack(
      CrfPackedTags packed,
      List<String> labels,
      List<Integer> sequenceLengths,
      boolean probability,
      boolean marginals) {
    long items = 0;
    for (int n : sequenceLengths) {
      items += n;
    }
    int k = labels.size();
    if (packed.getLabelIndicesCount() != items) {
      throw mismatch(
          items
              + " items were sent but "
              + packed.getLabelIndicesCount()
              + " label indices came back");
    }
    if (probability && packed.getProbabilitiesCount() != sequenceLengths.size()) {
      throw mismatch(
          sequenceLengths.size()
              + " sequences were sent but "
              + packed.getProbabilitiesCount()
              + " probabilities came back");
    }
    if (marginals && packed.getMarginalsCount() != items * k) {
      throw mismatch(
          "expected " + items + " × " + k + " marginals, got " + packed.getMarginalsCount());
    }
    List<TaggedSequence> out = new ArrayList<>(sequenceLengths.size());
    int item = 0;
    for (int s = 0; s < sequenceLengths.size(); s++) {
      int n = sequenceLengths.get(s);
      List<String> path = new ArrayList<>(n);
      List<Map<String, Double>> m = marginals ? new ArrayList<>(n) : List.of();
      for (int t = 0; t < n; t++, item++) {
        int index = packed.getLabelIndices(item);
        if (index < 0 || index >= k) {
          throw mismatch(
              "label index "
                  + Integer.toUnsignedString(index)
                  + " of item "
                  + item
                  + " is outside the model's "
                  + k
                  + " labels");
        }
        path.add(labels.get(index));
        if (marginals) {
          Map<String, Double> row = new LinkedHashMap<>();
          for (int j = 0; j < k; j++) {
            row.put(labels.get(j), packed.getMarginals(item * k + j));
          }
          m.add(Collections.unmodifiableMap(row));
        }
      }
      OptionalDouble p =
          probability ? OptionalDouble.of(packed.getProbabilities(s)) : OptionalDouble.empty();
      out.add(new TaggedSequence(path, p, m));
    }
    return out;
  }

  private static MlBridgeException mismatch(String what) {
    return new MlBridgeException(
        Status.Code.INTERNAL, "the server's tags do not fit the request: " + what);
  }

  /** Appends sequences to the flat fields of one message. */
  private static final class Packer {
    private final boolean labelled;
    private final CrfPackedSequences.Builder packed = CrfPackedSequences.newBuilder();
    private final List<String> labels = new ArrayList<>();
    private byte[] names = new byte[4096];
    private int nameBytes;

    /** Every attribute's weight so far, sent only when one is not 1.0. */
    private double[] weights = new double[256];

    private boolean weighted;
    int attributes;
    int items;

    Packer(boolean labelled) {
      this.labelled = labelled;
    }

    /** Appends sequence number {@code index} of {@code what}, checking it first. */
    void add(ItemSequence s, String what, int index) {
      if (s == null) {
        throw new IllegalArgumentException(what + "[" + index + "]: null instead of a sequence");
      }
      int n = s.size();
      List<String> itemLabels = null;
      if (labelled) {
        itemLabels = s.labelsOrNull();
        if (itemLabels == null) {
          throw new IllegalArgumentException(
              what
                  + "["
                  + index
                  + "]: no labels (a training sequence has one label per item; see ItemSequence.withLabels)");
        }
        if (itemLabels.size() != n) {
          throw new IllegalArgumentException(
              what + "[" + index + "]: " + n + " items but " + itemLabels.size() + " labels");
        }
      }
      for (int t = 0; t < n; t++) {
        String[] itemNames = s.names(t);
        double[] itemWeights = s.weightsOrNull(t);
        for (int a = 0; a < itemNames.length; a++) {
          String name = itemNames[a];
          if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(
                what
                    + "["
                    + index
                    + "]["
                    + t
                    + "]: an attribute name must hold no NUL character, got "
                    + quote(name));
          }
          if (!wellFormed(name)) {
            throw new IllegalArgumentException(
                what
                    + "["
                    + index
                    + "]["
                    + t
                    + "]: an attribute name must be valid Unicode (it holds an unpaired surrogate), got "
                    + quote(name));
          }
          double w = itemWeights == null ? 1.0 : itemWeights[a];
          appendName(name);
          if (attributes == weights.length) {
            weights = Arrays.copyOf(weights, 2 * weights.length);
          }
          weights[attributes++] = w;
          weighted |= w != 1.0;
        }
        packed.addItemAttributeCounts(itemNames.length);
        if (labelled) {
          String label = itemLabels.get(t);
          if (!wellFormed(label)) {
            throw new IllegalArgumentException(
                what
                    + "["
                    + index
                    + "]["
                    + t
                    + "]: a label must be valid Unicode (it holds an unpaired surrogate), got "
                    + quote(label));
          }
          labels.add(label);
        }
      }
      packed.addSequenceLengths(n);
      items += n;
    }

    private void appendName(String name) {
      byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
      int need = nameBytes + utf8.length + 1;
      if (need > names.length) {
        names = Arrays.copyOf(names, Math.max(need, 2 * names.length));
      }
      System.arraycopy(utf8, 0, names, nameBytes, utf8.length);
      nameBytes += utf8.length;
      names[nameBytes++] = 0;
    }

    CrfPackedSequences packed() {
      // The buffer is ours alone and no longer written: wrapped, not copied.
      packed.setAttributeNames(UnsafeByteOperations.unsafeWrap(names, 0, nameBytes));
      if (weighted) {
        for (int a = 0; a < attributes; a++) {
          packed.addAttributeWeights(weights[a]);
        }
      }
      return packed.build();
    }

    CrfLabelledSequences labelled() {
      return CrfLabelledSequences.newBuilder().setSequences(packed()).addAllLabels(labels).build();
    }
  }

  /** Whether {@code s} has no unpaired surrogate (which UTF-8 cannot encode). */
  private static boolean wellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 == s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
          return false;
        }
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return false;
      }
    }
    return true;
  }

  /** {@code s} in double quotes, with control characters escaped (so that a NUL shows). */
  private static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == '"' || c == '\\' || Character.isSurrogate(c)) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
