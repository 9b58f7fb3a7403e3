package dev.mlbridge.client;

import dev.mlbridge.v1.CrfAlgorithm;
import dev.mlbridge.v1.CrfFeatureTemplate;
import dev.mlbridge.v1.CrfTrainHeader;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How to train a CRF model: everything of {@link CrfTrainHeader} but the model name. Immutable;
 * made with {@link #builder()}, or {@link #book()} for the book's preset.
 */
public final class CrfTrainOptions {
  private final String featurePreset;
  private final CrfFeatureTemplate featureTemplate;
  private final CrfAlgorithm algorithm;
  private final Map<String, String> parameters;
  private final Double testFraction;
  private final long seed;
  private final boolean noHoldout;
  private final boolean failIfExists;

  private CrfTrainOptions(Builder b) {
    this.featurePreset = b.featurePreset;
    this.featureTemplate = b.featureTemplate;
    this.algorithm = b.algorithm;
    this.parameters = Map.copyOf(b.parameters);
    this.testFraction = b.testFraction;
    this.seed = b.seed;
    this.noHoldout = b.noHoldout;
    this.failIfExists = b.failIfExists;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The server's defaults: the {@code rich} preset, L-BFGS, 20% holdout. */
  public static CrfTrainOptions defaults() {
    return builder().build();
  }

  /** The book's model: lemma and next-lemma features trained with AROW. */
  public static CrfTrainOptions book() {
    return builder().featurePreset("book").build();
  }

  public String featurePreset() {
    return featurePreset;
  }

  public CrfAlgorithm algorithm() {
    return algorithm;
  }

  public Map<String, String> parameters() {
    return parameters;
  }

  /** The header of a training of {@code modelName} with these options. */
  CrfTrainHeader toHeader(String modelName) {
    CrfTrainHeader.Builder h =
        CrfTrainHeader.newBuilder()
            .setModelName(modelName)
            .setAlgorithm(algorithm)
            .putAllParameters(parameters)
            .setSeed(seed)
            .setNoHoldout(noHoldout)
            .setFailIfExists(failIfExists);
    if (featurePreset != null) {
      h.setFeaturePreset(featurePreset);
    }
    if (featureTemplate != null) {
      h.setFeatureTemplate(featureTemplate);
    }
    if (testFraction != null) {
      h.setTestFraction(testFraction);
    }
    return h.build();
  }

  /** Builds {@link CrfTrainOptions}. */
  public static final class Builder {
    private String featurePreset;
    private CrfFeatureTemplate featureTemplate;
    private CrfAlgorithm algorithm = CrfAlgorithm.CRF_ALGORITHM_UNSPECIFIED;
    private final Map<String, String> parameters = new LinkedHashMap<>();
    private Double testFraction;
    private long seed;
    private boolean noHoldout;
    private boolean failIfExists;

    private Builder() {}

    /** {@code book} or {@code rich}; ignored when a feature template is given. */
    public Builder featurePreset(String preset) {
      this.featurePreset = Objects.requireNonNull(preset, "preset");
      return this;
    }

    /** A custom feature template for CSV data; overrides the preset. */
    public Builder featureTemplate(CrfFeatureTemplate template) {
      this.featureTemplate = Objects.requireNonNull(template, "template");
      return this;
    }

    public Builder algorithm(CrfAlgorithm algorithm) {
      this.algorithm = Objects.requireNonNull(algorithm, "algorithm");
      return this;
    }

    /** A CRFsuite parameter of the algorithm, e.g. {@code max_iterations}. */
    public Builder parameter(String name, String value) {
      parameters.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    public Builder parameters(Map<String, String> values) {
      values.forEach(this::parameter);
      return this;
    }

    /** Share of sentences held out for evaluation, in [0, 0.9] (server default 0.2). */
    public Builder testFraction(double fraction) {
      this.testFraction = fraction;
      return this;
    }

    /** Seed of the shuffle that picks the holdout sentences. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Trains on all the data, with no holdout metrics. */
    public Builder noHoldout(boolean noHoldout) {
      this.noHoldout = noHoldout;
      return this;
    }

    /** Fails with ALREADY_EXISTS instead of replacing a stored model. */
    public Builder failIfExists(boolean failIfExists) {
      this.failIfExists = failIfExists;
      return this;
    }

    public CrfTrainOptions build() {
      return new CrfTrainOptions(this);
    }
  }
}
