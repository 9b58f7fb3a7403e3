package dev.mlbridge.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A sequence (a sentence) of items (its tokens) for a CRF model, as python-crfsuite's {@code
 * ItemSequence}: each item is a list of attributes, each a name (e.g. {@code lemma=london}) and a
 * weight (1.0 unless given). With one label per item it is a training sequence ({@link
 * CrfClient#train(String, Iterable, CrfTrainOptions, java.util.function.Consumer)}); {@link
 * CrfClient#tag(String, List)} ignores labels. Immutable.
 *
 * <pre>{@code
 * // The book's features: the lemma (weight 1) and the next lemma (weight 0.5), unprefixed.
 * double[] book = {1.0, 0.5};
 * ItemSequence sentence = ItemSequence.builder()
 *     .item(List.of("thousand", "of"), book)
 *     .item(List.of("of", "demonstr"), book)
 *     .build();
 * // Name → weight.
 * ItemSequence weighted = ItemSequence.ofWeighted(List.of(Map.of("lemma=london", 1.0, "shape=capitalized", 0.5)));
 * // Names only (weight 1), with labels for training.
 * ItemSequence labelled = ItemSequence.of(List.of(List.of("thousand", "of"), List.of("of", "demonstr")))
 *     .withLabels(List.of("O", "O"));
 * }</pre>
 *
 * <p>An item may have no attributes. Names must be non-empty and hold no NUL character, weights
 * must be finite, and a training sequence needs one non-empty label per item. These are checked
 * when the sequence is sent: what the packed wire form cannot carry (a NUL in a name, labels not
 * one per item) by the client, as an {@link IllegalArgumentException} naming the position (e.g.
 * {@code sequences[2][0]}: item 0 of the third sequence); the rest by the server, as an {@link
 * InvalidInputException} naming it too.
 */
public final class ItemSequence {
  /** Per item, its attribute names. */
  private final String[][] names;

  /** Per item, its attribute weights, or null when every one is 1.0. */
  private final double[][] weights;

  /** One label per item, or null for an unlabelled sequence. */
  private final List<String> labels;

  private ItemSequence(String[][] names, double[][] weights, List<String> labels) {
    this.names = names;
    this.weights = weights;
    this.labels = labels;
  }

  /** A builder of a sequence, item after item. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A sequence whose items have the given attribute names, each of weight 1.0: e.g. for the book's
   * features {@code [["thousand", "of"], ["of", "demonstr"]]} (lemma, next lemma).
   */
  public static ItemSequence of(List<? extends Collection<String>> attributeNamesPerItem) {
    Builder b = builder();
    for (Collection<String> names :
        Objects.requireNonNull(attributeNamesPerItem, "attributeNamesPerItem")) {
      b.item(names);
    }
    return b.build();
  }

  /**
   * A sequence whose items have the given attributes, name → weight (in the map's iteration order),
   * e.g. {@code [{"london": 1.0, "to": 0.5}, ...]}.
   */
  public static ItemSequence ofWeighted(List<? extends Map<String, Double>> attributesPerItem) {
    Builder b = builder();
    for (Map<String, Double> attributes :
        Objects.requireNonNull(attributesPerItem, "attributesPerItem")) {
      b.item(attributes);
    }
    return b.build();
  }

  /**
   * This sequence with one label per item, for training (checked when sent: as many labels as
   * items, none empty).
   */
  public ItemSequence withLabels(List<String> labels) {
    return new ItemSequence(names, weights, copyLabels(labels));
  }

  /** This sequence without labels. */
  public ItemSequence withoutLabels() {
    return labels == null ? this : new ItemSequence(names, weights, null);
  }

  /** The number of items. */
  public int size() {
    return names.length;
  }

  /** The attribute names of item {@code item}. */
  public List<String> attributeNames(int item) {
    return List.of(names[Objects.checkIndex(item, names.length)]);
  }

  /** The attribute weights of item {@code item}, one per name (a copy). */
  public double[] attributeWeights(int item) {
    double[] w = weights[Objects.checkIndex(item, names.length)];
    if (w != null) {
      return w.clone();
    }
    double[] ones = new double[names[item].length];
    Arrays.fill(ones, 1.0);
    return ones;
  }

  /** Whether the sequence has labels (a training sequence). */
  public boolean hasLabels() {
    return labels != null;
  }

  /** The labels, one per item; empty when the sequence has none. */
  public List<String> labels() {
    return labels == null ? List.of() : labels;
  }

  /** The names of item {@code item}, not copied: for the packer. */
  String[] names(int item) {
    return names[item];
  }

  /**
   * The weights of item {@code item}, not copied, or null when every one is 1.0: for the packer.
   */
  double[] weightsOrNull(int item) {
    return weights[item];
  }

  /** The labels, or null when the sequence has none: for the packer. */
  List<String> labelsOrNull() {
    return labels;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof ItemSequence)) {
      return false;
    }
    ItemSequence other = (ItemSequence) o;
    if (names.length != other.names.length || !Objects.equals(labels, other.labels)) {
      return false;
    }
    for (int i = 0; i < names.length; i++) {
      if (!Arrays.equals(names[i], other.names[i])
          || !Arrays.equals(attributeWeights(i), other.attributeWeights(i))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    int h = Objects.hashCode(labels);
    for (int i = 0; i < names.length; i++) {
      h = 31 * h + Arrays.hashCode(names[i]);
      h = 31 * h + Arrays.hashCode(attributeWeights(i));
    }
    return h;
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("ItemSequence[");
    for (int i = 0; i < names.length; i++) {
      if (i > 0) {
        s.append(", ");
      }
      s.append('{');
      for (int a = 0; a < names[i].length; a++) {
        if (a > 0) {
          s.append(", ");
        }
        s.append(names[i][a]);
        if (weights[i] != null && weights[i][a] != 1.0) {
          s.append('=').append(weights[i][a]);
        }
      }
      s.append('}');
      if (labels != null && i < labels.size()) {
        s.append(':').append(labels.get(i));
      }
    }
    return s.append(']').toString();
  }

  private static List<String> copyLabels(List<String> labels) {
    Objects.requireNonNull(labels, "labels");
    List<String> copy = new ArrayList<>(labels.size());
    for (String label : labels) {
      if (label == null) {
        throw new NullPointerException("labels[" + copy.size() + "] is null");
      }
      copy.add(label);
    }
    return Collections.unmodifiableList(copy);
  }

  /** Builds an {@link ItemSequence}, item after item. */
  public static final class Builder {
    private final List<String[]> names = new ArrayList<>();
    private final List<double[]> weights = new ArrayList<>();
    private List<String> labels;

    private Builder() {}

    /** Adds an item with these attribute names, each of weight 1.0. */
    public Builder item(String... attributeNames) {
      return item(Arrays.asList(Objects.requireNonNull(attributeNames, "attributeNames")));
    }

    /** Adds an item with these attribute names, each of weight 1.0. */
    public Builder item(Collection<String> attributeNames) {
      Objects.requireNonNull(attributeNames, "attributeNames");
      String[] n = new String[attributeNames.size()];
      int a = 0;
      for (String name : attributeNames) {
        n[a] = requireName(name, a);
        a++;
      }
      names.add(n);
      weights.add(null);
      return this;
    }

    /**
     * Adds an item with these attributes: {@code names[a]} of weight {@code weights[a]}. Unlike a
     * map, it may name an attribute twice (e.g. the book's lemma and next lemma when equal).
     */
    public Builder item(List<String> attributeNames, double[] attributeWeights) {
      Objects.requireNonNull(attributeNames, "attributeNames");
      Objects.requireNonNull(attributeWeights, "attributeWeights");
      if (attributeNames.size() != attributeWeights.length) {
        throw new IllegalArgumentException(
            "item "
                + names.size()
                + ": "
                + attributeNames.size()
                + " attribute names but "
                + attributeWeights.length
                + " weights");
      }
      String[] n = new String[attributeWeights.length];
      boolean weighted = false;
      for (int a = 0; a < n.length; a++) {
        n[a] = requireName(attributeNames.get(a), a);
        weighted |= attributeWeights[a] != 1.0;
      }
      names.add(n);
      weights.add(weighted ? attributeWeights.clone() : null);
      return this;
    }

    /** Adds an item with these attributes, name → weight, in the map's iteration order. */
    public Builder item(Map<String, Double> attributes) {
      Objects.requireNonNull(attributes, "attributes");
      String[] n = new String[attributes.size()];
      double[] w = new double[n.length];
      boolean weighted = false;
      int a = 0;
      for (Map.Entry<String, Double> e : attributes.entrySet()) {
        n[a] = requireName(e.getKey(), a);
        Double weight = e.getValue();
        if (weight == null) {
          throw new NullPointerException(
              "item " + names.size() + ": the weight of " + n[a] + " is null");
        }
        w[a] = weight;
        weighted |= w[a] != 1.0;
        a++;
      }
      names.add(n);
      weights.add(weighted ? w : null);
      return this;
    }

    /** One label per item, for training. */
    public Builder labels(List<String> labels) {
      this.labels = copyLabels(labels);
      return this;
    }

    public ItemSequence build() {
      return new ItemSequence(
          names.toArray(new String[0][]), weights.toArray(new double[0][]), labels);
    }

    private String requireName(String name, int attribute) {
      if (name == null) {
        throw new NullPointerException(
            "item " + names.size() + ": attribute " + attribute + " has a null name");
      }
      return name;
    }
  }
}
