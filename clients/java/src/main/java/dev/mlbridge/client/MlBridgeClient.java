package dev.mlbridge.client;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Objects;

/**
 * A client of the mlbridge model server: one gRPC channel, four services, as the Python client's
 * {@code client.crf}, {@code client.xgboost}, {@code client.text} and {@code client.models}.
 *
 * <pre>{@code
 * try (MlBridgeClient client = MlBridgeClient.builder().build()) {   // MLBRIDGE_ADDRESS or localhost:50051
 *   client.xgboost().train("xgb.model", Path.of("data/iris.csv"), XgboostTrainOptions.iris(),
 *       p -> System.out.println(p.getEvalLog()));
 *   String species = client.xgboost().predictCsv("xgb.model", Path.of("data/predict.csv")).className(0);
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@link #crf()}: CRFsuite sequence taggers (train from CSV or {@link ItemSequence}s,
 *       predict, tag);
 *   <li>{@link #xgboost()}: XGBoost boosters (train from CSV or a matrix, predict);
 *   <li>{@link #text()}: the book's word count;
 *   <li>{@link #models()}: the model store (list, get, delete, export, import).
 * </ul>
 *
 * <p>Every failure is an unchecked {@link MlBridgeException} carrying the server's message; the
 * status code chooses the subclass as {@code clients/errors.json} says, the same for both clients:
 * {@link InvalidInputException}, {@link ModelNotFoundException}, {@link ModelExistsException},
 * {@link ServerUnavailableException}, {@link DeadlineExceededException}, {@link
 * AuthenticationException}, {@link ResourceExhaustedException}, {@link CancelledException}, or the
 * base class for other codes. Local file errors are {@link UncheckedIOException}s, bad arguments
 * {@link IllegalArgumentException}s. Instances are thread-safe; progress callbacks run on gRPC
 * threads.
 *
 * <p>The builder can also take a channel the application already has ({@link
 * Builder#channel(ManagedChannel)}: the client then only borrows it, and {@link #close()} leaves it
 * open) and its own {@link ClientInterceptor}s ({@link Builder#intercept(ClientInterceptor...)}).
 */
public final class MlBridgeClient implements AutoCloseable {
  /** Environment variable holding the server address ({@code host:port}). */
  public static final String ADDRESS_ENV = "MLBRIDGE_ADDRESS";

  /** Address used when {@value #ADDRESS_ENV} is not set. */
  public static final String DEFAULT_ADDRESS = "localhost:50051";

  /** Size of the chunks that uploads are sent in. */
  static final int CHUNK_SIZE = 1 << 20;

  /** Largest message received; the server's default limit. */
  static final int DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

  private final ChannelSettings.Built channel;
  private final CrfClient crf;
  private final XgboostClient xgboost;
  private final TextClient text;
  private final ModelsClient models;

  /** For tests: a client over an existing channel, which {@link #close()} shuts down. */
  MlBridgeClient(ManagedChannel channel) {
    this(
        new ChannelSettings.Built(
            Objects.requireNonNull(channel, "channel"), true, channel.authority(), channel),
        null);
  }

  private MlBridgeClient(ChannelSettings.Built channel, Duration deadline) {
    this.channel = channel;
    Rpc rpc = new Rpc(channel.channel(), channel.target(), deadline);
    this.crf = new CrfClient(rpc);
    this.xgboost = new XgboostClient(rpc);
    this.text = new TextClient(rpc);
    this.models = new ModelsClient(rpc);
  }

  /** A builder whose address is {@code $MLBRIDGE_ADDRESS}, or {@value #DEFAULT_ADDRESS}. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The server address this client talks to (for a {@linkplain Builder#channel(ManagedChannel)
   * borrowed channel}, the address given to the builder, else the channel's authority).
   */
  public String address() {
    return channel.target();
  }

  /** CRFsuite sequence taggers (CrfService). */
  public CrfClient crf() {
    return crf;
  }

  /** XGBoost boosters (XgboostService). */
  public XgboostClient xgboost() {
    return xgboost;
  }

  /** The book's word count (TextService). */
  public TextClient text() {
    return text;
  }

  /** The model store (ModelService). */
  public ModelsClient models() {
    return models;
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

  /** Builds an {@link MlBridgeClient}. */
  public static final class Builder extends ClientBuilder<Builder, MlBridgeClient> {
    private Builder() {}

    /** {@inheritDoc} */
    @Override
    public MlBridgeClient build() {
      return new MlBridgeClient(settings.build(), settings.deadline);
    }
  }
}
