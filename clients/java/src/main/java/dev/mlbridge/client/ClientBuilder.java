package dev.mlbridge.client;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The settings every client of this package is built with (the channel: address, TLS, token,
 * deadline, interceptors, or an existing channel): one builder for {@link MlBridgeClient} and
 * {@link InferenceClient}.
 *
 * @param <B> the concrete builder, returned by each setting
 * @param <C> the client it builds
 */
public abstract class ClientBuilder<B extends ClientBuilder<B, C>, C> {
  final ChannelSettings settings = new ChannelSettings();

  ClientBuilder() {}

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /**
   * The server's {@code host:port} (or any gRPC target). With {@link #channel(ManagedChannel)},
   * only the name used in error messages.
   */
  public final B address(String address) {
    settings.address(address);
    return self();
  }

  /** Uses TLS, trusting the JVM's default certificate authorities. */
  public final B tls() {
    settings.tls = true;
    return self();
  }

  /** Uses TLS, trusting the certificates of a PEM file (e.g. the server's self-signed one). */
  public final B trustCertificates(Path pem) {
    settings.trustCertificates = Objects.requireNonNull(pem, "pem");
    settings.tls = true;
    return self();
  }

  /** Uses TLS and presents a client certificate (for servers that require mutual TLS). */
  public final B clientCertificate(Path certificateChainPem, Path privateKeyPem) {
    settings.clientCertificateChain =
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
    settings.clientPrivateKey = Objects.requireNonNull(privateKeyPem, "privateKeyPem");
    settings.tls = true;
    return self();
  }

  /** The TLS authority (host name) to verify, when it differs from the address's host. */
  public final B overrideAuthority(String authority) {
    settings.authority = Objects.requireNonNull(authority, "authority");
    return self();
  }

  /** Sends {@code authorization: Bearer <token>} with every call. */
  public final B token(String token) {
    settings.token = Objects.requireNonNull(token, "token");
    return self();
  }

  /**
   * A deadline for each call (for MlBridgeClient's streaming calls, the whole training); none by
   * default.
   */
  public final B deadline(Duration deadline) {
    settings.deadline(deadline);
    return self();
  }

  /** Largest response accepted (default 64 MiB, the server's default). */
  public final B maxMessageBytes(int bytes) {
    settings.maxMessageBytes(bytes);
    return self();
  }

  /**
   * Uses a channel the application already has instead of making one. The client does not own it:
   * the client's {@code close()} does not shut it down, so one channel can serve several clients
   * and outlive them; its owner shuts it down. Transport settings ({@link #tls()}, {@link
   * #trustCertificates}, {@link #clientCertificate}, {@link #overrideAuthority}, {@link
   * #maxMessageBytes}) belong on that channel's own builder: giving them too is an {@link
   * IllegalStateException} at {@link #build()}. {@link #token}, {@link #deadline} and {@link
   * #intercept} still apply.
   */
  public final B channel(ManagedChannel channel) {
    settings.channel(channel);
    return self();
  }

  /**
   * Adds interceptors to every call of the client, called in the order given (over several calls of
   * this method, too), after the bearer-token interceptor of {@link #token}: they see the {@code
   * authorization} header among the call's headers.
   */
  public final B intercept(ClientInterceptor... interceptors) {
    settings.intercept(interceptors);
    return self();
  }

  /**
   * The client. Its channel connects lazily: a server that is down shows as a {@link
   * ServerUnavailableException} on the first call.
   *
   * @throws IllegalStateException when {@link #channel(ManagedChannel)} is combined with transport
   *     settings
   */
  public abstract C build();
}
