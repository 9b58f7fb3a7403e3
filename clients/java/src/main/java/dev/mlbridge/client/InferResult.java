package dev.mlbridge.client;

import inference.GrpcPredictV2.ModelInferResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The answer of an {@link InferenceClient#infer} call: the model name and version that answered,
 * the request id echoed, and the output tensors in the server's order.
 */
public final class InferResult {
  private final ModelInferResponse response;
  private final List<InferOutput> outputs;

  InferResult(ModelInferResponse response) {
    this.response = response;
    boolean raw = response.getRawOutputContentsCount() > 0;
    if (raw && response.getRawOutputContentsCount() != response.getOutputsCount()) {
      throw new MlBridgeException(
          io.grpc.Status.Code.INTERNAL,
          "the server sent "
              + response.getRawOutputContentsCount()
              + " raw_output_contents for "
              + response.getOutputsCount()
              + " outputs");
    }
    List<InferOutput> list = new ArrayList<>();
    for (int i = 0; i < response.getOutputsCount(); i++) {
      list.add(
          new InferOutput(response.getOutputs(i), raw ? response.getRawOutputContents(i) : null));
    }
    this.outputs = Collections.unmodifiableList(list);
  }

  public String modelName() {
    return response.getModelName();
  }

  public String modelVersion() {
    return response.getModelVersion();
  }

  /** The request id, as sent. */
  public String id() {
    return response.getId();
  }

  /** The outputs, in the server's order. */
  public List<InferOutput> outputs() {
    return outputs;
  }

  /** The output named {@code name}; an {@link IllegalArgumentException} when there is none. */
  public InferOutput output(String name) {
    for (InferOutput o : outputs) {
      if (o.name().equals(name)) {
        return o;
      }
    }
    List<String> names = new ArrayList<>();
    outputs.forEach(o -> names.add(o.name()));
    throw new IllegalArgumentException("no output '" + name + "' (the outputs are " + names + ")");
  }

  /** The response's parameters. */
  public Map<String, inference.GrpcPredictV2.InferParameter> parameters() {
    return response.getParametersMap();
  }

  /** The response as received. */
  public ModelInferResponse response() {
    return response;
  }

  @Override
  public String toString() {
    return "InferResult{model="
        + modelName()
        + ", version="
        + modelVersion()
        + ", "
        + outputs
        + "}";
  }
}
