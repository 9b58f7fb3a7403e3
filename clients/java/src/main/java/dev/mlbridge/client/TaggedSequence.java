package dev.mlbridge.client;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * A sequence tagged by a CRF model ({@link CrfClient#tag(String, List, boolean, boolean)}): one
 * label per item (the Viterbi path) and, when asked for, the path's probability and each item's
 * marginal probability of every label.
 */
public final class TaggedSequence {
  private final List<String> labels;
  private final OptionalDouble probability;
  private final List<Map<String, Double>> marginals;

  TaggedSequence(
      List<String> labels, OptionalDouble probability, List<Map<String, Double>> marginals) {
    this.labels = List.copyOf(labels);
    this.probability = Objects.requireNonNull(probability, "probability");
    this.marginals = List.copyOf(marginals);
  }

  /** The label of each item, in order. */
  public List<String> labels() {
    return labels;
  }

  /** The probability of the labels' path; empty unless asked for. */
  public OptionalDouble probability() {
    return probability;
  }

  /**
   * Per item, the marginal probability of every label of the model (label → probability, in the
   * model's label order); empty unless asked for.
   */
  public List<Map<String, Double>> marginals() {
    return marginals;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof TaggedSequence)) {
      return false;
    }
    TaggedSequence other = (TaggedSequence) o;
    return labels.equals(other.labels)
        && probability.equals(other.probability)
        && marginals.equals(other.marginals);
  }

  @Override
  public int hashCode() {
    return Objects.hash(labels, probability, marginals);
  }

  @Override
  public String toString() {
    return "TaggedSequence{labels="
        + labels
        + (probability.isPresent() ? ", probability=" + probability.getAsDouble() : "")
        + (marginals.isEmpty() ? "" : ", marginals=" + marginals)
        + "}";
  }
}
