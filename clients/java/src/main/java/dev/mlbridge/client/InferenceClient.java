package dev.mlbridge.client;

import inference.GRPCInferenceServiceGrpc;
import inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import inference.GrpcPredictV2.ModelInferRequest;
import inference.GrpcPredictV2.ModelInferRequest.InferRequestedOutputTensor;
import inference.GrpcPredictV2.ModelMetadataRequest;
import inference.GrpcPredictV2.ModelMetadataResponse;
import inference.GrpcPredictV2.ModelReadyRequest;
import inference.GrpcPredictV2.ServerLiveRequest;
import inference.GrpcPredictV2.ServerMetadataRequest;
import inference.GrpcPredictV2.ServerMetadataResponse;
import inference.GrpcPredictV2.ServerReadyRequest;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A client of the Open Inference Protocol (KServe V2) over gRPC, {@code
 * inference.GRPCInferenceService} (generated from {@code proto/inference/grpc_predict_v2.proto}
 * into the Java package {@code inference}). It works against any server of that protocol: Triton,
 * MLServer, KServe's model servers, and mlbridge, which serves its store's XGBoost and CRF models
 * through it on its usual port (see {@code docs/inference-protocol.md}).
 *
 * <pre>{@code
 * try (InferenceClient client = InferenceClient.builder().address("localhost:50051").build()) {
 *   InferResult r = client.infer("iris", InferInput.fp32("input", new float[][] {{5.1f, 3.5f, 1.4f, 0.2f}}));
 *   long[] classes = r.output("predict").asLongs();
 *   float[] probabilities = r.output("predict_proba").asFloats();   // shape [1, 3]
 * }
 * }</pre>
 *
 * <p>Inputs: when any input is {@code FP32}, the request carries every input in {@code
 * raw_input_contents} (little-endian, row-major; {@code BYTES} elements each prefixed with a 4-byte
 * little-endian length), as Triton's clients do, since the protocol allows raw or typed contents in
 * one request but not both; otherwise inputs go in typed {@code contents}. Outputs are read back
 * either way ({@link InferOutput}).
 *
 * <p>Errors are those of {@link MlBridgeClient}: an unchecked {@link MlBridgeException} whose class
 * the status code chooses ({@link ModelNotFoundException} for an unknown model or version, {@link
 * InvalidInputException} for a tensor the model refuses, with the server's message naming the
 * field, ...). Instances are thread-safe.
 */
public final class InferenceClient implements AutoCloseable {
  private final ChannelSettings.Built channel;
  private final Rpc rpc;

  private InferenceClient(ChannelSettings.Built channel, Duration deadline) {
    this.channel = channel;
    this.rpc = new Rpc(channel.channel(), channel.target(), deadline);
  }

  /**
   * A builder whose address is {@code $MLBRIDGE_ADDRESS}, or {@value
   * MlBridgeClient#DEFAULT_ADDRESS}.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The server address this client talks to. */
  public String address() {
    return channel.target();
  }

  private GRPCInferenceServiceBlockingStub stub() {
    return rpc.stub(GRPCInferenceServiceGrpc.newBlockingStub(rpc.channel));
  }

  /** {@code ServerLive}: whether the server is live. */
  public boolean live() {
    return rpc.call(() -> stub().serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
  }

  /** {@code ServerReady}: whether the server is ready for inferences. */
  public boolean ready() {
    return rpc.call(() -> stub().serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
  }

  /** {@code ServerMetadata}: the server's name, version and protocol extensions. */
  public ServerMetadataResponse serverMetadata() {
    return rpc.call(() -> stub().serverMetadata(ServerMetadataRequest.getDefaultInstance()));
  }

  /** {@code ModelReady}: whether the model (its current version) can answer. */
  public boolean modelReady(String name) {
    return modelReady(name, "");
  }

  /** {@code ModelReady}: whether that version of the model can answer ({@code ""}: any). */
  public boolean modelReady(String name, String version) {
    ModelReadyRequest request =
        ModelReadyRequest.newBuilder()
            .setName(Objects.requireNonNull(name, "name"))
            .setVersion(version == null ? "" : version)
            .build();
    return rpc.call(() -> stub().modelReady(request).getReady());
  }

  /** {@code ModelMetadata}: the model's versions, platform, and input and output tensors. */
  public ModelMetadataResponse modelMetadata(String name) {
    return modelMetadata(name, "");
  }

  /** {@code ModelMetadata} of one version of the model ({@code ""}: the current one). */
  public ModelMetadataResponse modelMetadata(String name, String version) {
    ModelMetadataRequest request =
        ModelMetadataRequest.newBuilder()
            .setName(Objects.requireNonNull(name, "name"))
            .setVersion(version == null ? "" : version)
            .build();
    return rpc.call(() -> stub().modelMetadata(request));
  }

  /** {@code ModelInfer} on the model's current version; the model's default outputs. */
  public InferResult infer(String model, InferInput... inputs) {
    return infer(model, null, List.of(inputs), List.of());
  }

  /**
   * {@code ModelInfer} on the model's current version, asking for {@code outputs} by name (empty:
   * the model's default outputs).
   */
  public InferResult infer(String model, List<InferInput> inputs, List<String> outputs) {
    return infer(model, null, inputs, outputs);
  }

  /**
   * {@code ModelInfer} on {@code version} of the model ({@code null} or {@code ""}: the current
   * one), asking for {@code outputs} by name (empty: the model's default outputs).
   */
  public InferResult infer(
      String model, String version, List<InferInput> inputs, List<String> outputs) {
    return infer(request(model, version, inputs, outputs));
  }

  /** {@code ModelInfer} with a request built by the caller (for ids and parameters). */
  public InferResult infer(ModelInferRequest request) {
    Objects.requireNonNull(request, "request");
    return new InferResult(rpc.call(() -> stub().modelInfer(request)));
  }

  /**
   * The request {@link #infer(String, String, List, List)} sends: every input raw when any is
   * {@code FP32}, else typed. A starting point for {@link #infer(ModelInferRequest)}.
   */
  public static ModelInferRequest request(
      String model, String version, List<InferInput> inputs, List<String> outputs) {
    ModelInferRequest.Builder b =
        ModelInferRequest.newBuilder()
            .setModelName(Objects.requireNonNull(model, "model"))
            .setModelVersion(version == null ? "" : version);
    boolean raw = false;
    for (InferInput input : inputs) {
      raw |= "FP32".equals(Objects.requireNonNull(input, "inputs contain null").datatype());
    }
    for (InferInput input : inputs) {
      if (raw) {
        b.addInputs(input.header()).addRawInputContents(input.raw());
      } else {
        b.addInputs(input.typed());
      }
    }
    for (String output : outputs) {
      b.addOutputs(
          InferRequestedOutputTensor.newBuilder()
              .setName(Objects.requireNonNull(output, "outputs contain null")));
    }
    return b.build();
  }

  /**
   * Shuts the channel down and waits (up to 10 s) for calls in flight to end; a channel given to
   * {@link Builder#channel(ManagedChannel)} is left as it is (its owner shuts it down).
   */
  @Override
  public void close() {
    channel.close();
  }

  // ------------------------------------------------------------------------------ builder

  /** Builds an {@link InferenceClient}; the same settings as {@link MlBridgeClient.Builder}. */
  public static final class Builder extends ClientBuilder<Builder, InferenceClient> {
    private Builder() {}

    /** {@inheritDoc} */
    @Override
    public InferenceClient build() {
      return new InferenceClient(settings.build(), settings.deadline);
    }
  }
}
