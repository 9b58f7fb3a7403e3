package dev.mlbridge.client;

import dev.mlbridge.v1.XgboostTrainHeader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to train an XGBoost booster: everything of {@link XgboostTrainHeader} but the model name.
 * Immutable; made with {@link #builder()}, or {@link #iris()} for the book's preset.
 */
public final class XgboostTrainOptions {
  private final String preset;
  private final Map<String, String> parameters;
  private final Integer numRounds;
  private final Double testFraction;
  private final Double validationFraction;
  private final long seed;
  private final List<String> featureNames;
  private final List<String> classNames;
  private final String labelColumn;
  private final boolean failIfExists;

  private XgboostTrainOptions(Builder b) {
    this.preset = b.preset;
    this.parameters = Map.copyOf(b.parameters);
    this.numRounds = b.numRounds;
    this.testFraction = b.testFraction;
    this.validationFraction = b.validationFraction;
    this.seed = b.seed;
    this.featureNames = List.copyOf(b.featureNames);
    this.classNames = List.copyOf(b.classNames);
    this.labelColumn = b.labelColumn;
    this.failIfExists = b.failIfExists;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** No preset: the server's defaults (10 rounds, 20% test). */
  public static XgboostTrainOptions defaults() {
    return builder().build();
  }

  /**
   * The book's iris classifier: multi:softmax, 3 classes, max_depth 2, eta 1, 2 rounds, 20% test
   * and 20% validation.
   */
  public static XgboostTrainOptions iris() {
    return builder().preset("iris").build();
  }

  public String preset() {
    return preset;
  }

  public Map<String, String> parameters() {
    return parameters;
  }

  /** The header of a training of {@code modelName} with these options. */
  XgboostTrainHeader toHeader(String modelName) {
    XgboostTrainHeader.Builder h =
        XgboostTrainHeader.newBuilder()
            .setModelName(modelName)
            .putAllParameters(parameters)
            .setSeed(seed)
            .addAllFeatureNames(featureNames)
            .addAllClassNames(classNames)
            .setFailIfExists(failIfExists);
    if (preset != null) {
      h.setPreset(preset);
    }
    if (numRounds != null) {
      h.setNumRounds(numRounds);
    }
    if (testFraction != null) {
      h.setTestFraction(testFraction);
    }
    if (validationFraction != null) {
      h.setValidationFraction(validationFraction);
    }
    if (labelColumn != null) {
      h.setLabelColumn(labelColumn);
    }
    return h.build();
  }

  /** Builds {@link XgboostTrainOptions}. */
  public static final class Builder {
    private String preset;
    private final Map<String, String> parameters = new LinkedHashMap<>();
    private Integer numRounds;
    private Double testFraction;
    private Double validationFraction;
    private long seed;
    private final List<String> featureNames = new ArrayList<>();
    private final List<String> classNames = new ArrayList<>();
    private String labelColumn;
    private boolean failIfExists;

    private Builder() {}

    /** A named preset, e.g. {@code iris}. */
    public Builder preset(String preset) {
      this.preset = Objects.requireNonNull(preset, "preset");
      return this;
    }

    /** An XGBoost parameter, e.g. {@code max_depth}; applied over the preset's. */
    public Builder parameter(String name, String value) {
      parameters.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    public Builder parameters(Map<String, String> values) {
      values.forEach(this::parameter);
      return this;
    }

    public Builder numRounds(int rounds) {
      if (rounds < 0) {
        throw new IllegalArgumentException("rounds must not be negative: " + rounds);
      }
      this.numRounds = rounds;
      return this;
    }

    public Builder testFraction(double fraction) {
      this.testFraction = fraction;
      return this;
    }

    public Builder validationFraction(double fraction) {
      this.validationFraction = fraction;
      return this;
    }

    /** Seed of the row shuffle that makes the splits. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Feature names of matrix data (CSV data takes them from its header row). */
    public Builder featureNames(List<String> names) {
      featureNames.clear();
      featureNames.addAll(names);
      return this;
    }

    /** Class names by label index, for classifiers trained on a matrix. */
    public Builder classNames(List<String> names) {
      classNames.clear();
      classNames.addAll(names);
      return this;
    }

    /** The CSV label column; unset means the last column. */
    public Builder labelColumn(String column) {
      this.labelColumn = Objects.requireNonNull(column, "column");
      return this;
    }

    /** Fails with ALREADY_EXISTS instead of replacing a stored model. */
    public Builder failIfExists(boolean failIfExists) {
      this.failIfExists = failIfExists;
      return this;
    }

    public XgboostTrainOptions build() {
      return new XgboostTrainOptions(this);
    }
  }
}
