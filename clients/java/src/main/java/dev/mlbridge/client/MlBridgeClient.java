package dev.mlbridge.client;

import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

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

  private final ManagedChannel channel;
  private final String target;
  private final CrfClient crf;
  private final XgboostClient xgboost;
  private final TextClient text;
  private final ModelsClient models;

  /** For tests: a client over an existing channel, which {@link #close()} shuts down. */
  MlBridgeClient(ManagedChannel channel) {
    this(channel, channel.authority(), null, null);
  }

  MlBridgeClient(ManagedChannel channel, String target, String token, Duration deadline) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.target = target;
    Channel ch =
        token == null
            ? channel
            : ClientInterceptors.intercept(channel, new BearerTokenInterceptor(token));
    Rpc rpc = new Rpc(ch, target, deadline);
    this.crf = new CrfClient(rpc);
    this.xgboost = new XgboostClient(rpc);
    this.text = new TextClient(rpc);
    this.models = new ModelsClient(rpc);
  }

  /** A builder whose address is {@code $MLBRIDGE_ADDRESS}, or {@value #DEFAULT_ADDRESS}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The server address this client talks to. */
  public String address() {
    return target;
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

  /** Shuts the channel down and waits (up to 10 s) for calls in flight to end. */
  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  // ------------------------------------------------------------------------------ builder

  /** Builds an {@link MlBridgeClient}. */
  public static final class Builder {
    private String address;
    private boolean tls;
    private Path trustCertificates;
    private Path clientCertificateChain;
    private Path clientPrivateKey;
    private String authority;
    private String token;
    private Duration deadline;
    private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;

    private Builder() {
      String env = System.getenv(ADDRESS_ENV);
      this.address = env == null || env.isBlank() ? DEFAULT_ADDRESS : env.trim();
    }

    /** The server's {@code host:port} (or any gRPC target). */
    public Builder address(String address) {
      this.address = Objects.requireNonNull(address, "address");
      return this;
    }

    /** Uses TLS, trusting the JVM's default certificate authorities. */
    public Builder tls() {
      this.tls = true;
      return this;
    }

    /** Uses TLS, trusting the certificates of a PEM file (e.g. the server's self-signed one). */
    public Builder trustCertificates(Path pem) {
      this.trustCertificates = Objects.requireNonNull(pem, "pem");
      this.tls = true;
      return this;
    }

    /** Uses TLS and presents a client certificate (for servers that require mutual TLS). */
    public Builder clientCertificate(Path certificateChainPem, Path privateKeyPem) {
      this.clientCertificateChain =
          Objects.requireNonNull(certificateChainPem, "certificateChainPem");
      this.clientPrivateKey = Objects.requireNonNull(privateKeyPem, "privateKeyPem");
      this.tls = true;
      return this;
    }

    /** The TLS authority (host name) to verify, when it differs from the address's host. */
    public Builder overrideAuthority(String authority) {
      this.authority = Objects.requireNonNull(authority, "authority");
      return this;
    }

    /** Sends {@code authorization: Bearer <token>} with every call. */
    public Builder token(String token) {
      this.token = Objects.requireNonNull(token, "token");
      return this;
    }

    /** A deadline for each call (a whole training, for streaming calls); none by default. */
    public Builder deadline(Duration deadline) {
      if (deadline != null && (deadline.isNegative() || deadline.isZero())) {
        throw new IllegalArgumentException("deadline must be positive: " + deadline);
      }
      this.deadline = deadline;
      return this;
    }

    /** Largest response accepted (default 64 MiB, the server's default). */
    public Builder maxMessageBytes(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("bytes must be positive: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    /**
     * The client. Its channel connects lazily: a server that is down shows as a {@link
     * ServerUnavailableException} on the first call.
     */
    public MlBridgeClient build() {
      ChannelCredentials credentials;
      if (tls) {
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
        try {
          if (trustCertificates != null) {
            b.trustManager(trustCertificates.toFile());
          }
          if (clientCertificateChain != null) {
            b.keyManager(clientCertificateChain.toFile(), clientPrivateKey.toFile());
          }
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read TLS files: " + e.getMessage(), e);
        }
        credentials = b.build();
      } else {
        credentials = InsecureChannelCredentials.create();
      }
      ManagedChannelBuilder<?> cb =
          Grpc.newChannelBuilder(address, credentials).maxInboundMessageSize(maxMessageBytes);
      if (authority != null) {
        cb.overrideAuthority(authority);
      }
      return new MlBridgeClient(cb.build(), address, token, deadline);
    }
  }
}
