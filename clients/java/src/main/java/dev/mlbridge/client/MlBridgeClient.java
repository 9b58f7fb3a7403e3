package dev.mlbridge.client;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import java.io.UncheckedIOException;
import java.nio.file.Path;
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
  public static final class Builder {
    private final ChannelSettings settings = new ChannelSettings();

    private Builder() {}

    /**
     * The server's {@code host:port} (or any gRPC target). With {@link #channel(ManagedChannel)},
     * only the name used in error messages.
     */
    public Builder address(String address) {
      settings.address(address);
      return this;
    }

    /** Uses TLS, trusting the JVM's default certificate authorities. */
    public Builder tls() {
      settings.tls = true;
      return this;
    }

    /** Uses TLS, trusting the certificates of a PEM file (e.g. the server's self-signed one). */
    public Builder trustCertificates(Path pem) {
      settings.trustCertificates = Objects.requireNonNull(pem, "pem");
      settings.tls = true;
      return this;
    }

    /** Uses TLS and presents a client certificate (for servers that require mutual TLS). */
    public Builder clientCertificate(Path certificateChainPem, Path privateKeyPem) {
      settings.clientCertificateChain =
          Objects.requireNonNull(certificateChainPem, "certificateChainPem");
      settings.clientPrivateKey = Objects.requireNonNull(privateKeyPem, "privateKeyPem");
      settings.tls = true;
      return this;
    }

    /** The TLS authority (host name) to verify, when it differs from the address's host. */
    public Builder overrideAuthority(String authority) {
      settings.authority = Objects.requireNonNull(authority, "authority");
      return this;
    }

    /** Sends {@code authorization: Bearer <token>} with every call. */
    public Builder token(String token) {
      settings.token = Objects.requireNonNull(token, "token");
      return this;
    }

    /** A deadline for each call (a whole training, for streaming calls); none by default. */
    public Builder deadline(Duration deadline) {
      settings.deadline(deadline);
      return this;
    }

    /** Largest response accepted (default 64 MiB, the server's default). */
    public Builder maxMessageBytes(int bytes) {
      settings.maxMessageBytes(bytes);
      return this;
    }

    /**
     * Uses a channel the application already has instead of making one. The client does not own it:
     * {@link MlBridgeClient#close()} does not shut it down, so one channel can serve several
     * clients and outlive them; its owner shuts it down. Transport settings ({@link #tls()}, {@link
     * #trustCertificates}, {@link #clientCertificate}, {@link #overrideAuthority}, {@link
     * #maxMessageBytes}) belong on that channel's own builder: giving them too is an {@link
     * IllegalStateException} at {@link #build()}. {@link #token}, {@link #deadline} and {@link
     * #intercept} still apply.
     */
    public Builder channel(ManagedChannel channel) {
      settings.channel(channel);
      return this;
    }

    /**
     * Adds interceptors to every call of the client, called in the order given (over several calls
     * of this method, too), after the bearer-token interceptor of {@link #token}: they see the
     * {@code authorization} header among the call's headers.
     */
    public Builder intercept(ClientInterceptor... interceptors) {
      settings.intercept(interceptors);
      return this;
    }

    /**
     * The client. Its channel connects lazily: a server that is down shows as a {@link
     * ServerUnavailableException} on the first call.
     *
     * @throws IllegalStateException when {@link #channel(ManagedChannel)} is combined with
     *     transport settings
     */
    public MlBridgeClient build() {
      return new MlBridgeClient(settings.build(), settings.deadline);
    }
  }
}
