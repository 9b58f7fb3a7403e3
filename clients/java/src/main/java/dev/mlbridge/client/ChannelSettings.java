package dev.mlbridge.client;

import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What the public builders ({@link MlBridgeClient.Builder}, {@link InferenceClient.Builder})
 * collect, and how it becomes a channel: a new one the client owns, or an existing one it only
 * borrows, wrapped in the bearer-token interceptor and the caller's interceptors.
 */
final class ChannelSettings {
  String address;
  private boolean addressSet;
  boolean tls;
  Path trustCertificates;
  Path clientCertificateChain;
  Path clientPrivateKey;
  String authority;
  String token;
  Duration deadline;
  private Integer maxMessageBytes;
  private ManagedChannel existing;
  private final List<ClientInterceptor> interceptors = new ArrayList<>();

  ChannelSettings() {
    String env = System.getenv(MlBridgeClient.ADDRESS_ENV);
    this.address = env == null || env.isBlank() ? MlBridgeClient.DEFAULT_ADDRESS : env.trim();
  }

  void address(String address) {
    this.address = Objects.requireNonNull(address, "address");
    this.addressSet = true;
  }

  void deadline(Duration deadline) {
    if (deadline != null && (deadline.isNegative() || deadline.isZero())) {
      throw new IllegalArgumentException("deadline must be positive: " + deadline);
    }
    this.deadline = deadline;
  }

  void maxMessageBytes(int bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("bytes must be positive: " + bytes);
    }
    this.maxMessageBytes = bytes;
  }

  void channel(ManagedChannel channel) {
    this.existing = Objects.requireNonNull(channel, "channel");
  }

  void intercept(ClientInterceptor... interceptors) {
    Objects.requireNonNull(interceptors, "interceptors");
    for (int i = 0; i < interceptors.length; i++) {
      this.interceptors.add(Objects.requireNonNull(interceptors[i], "interceptors[" + i + "]"));
    }
  }

  /** A built channel: the one to close (when owned), and the one to make stubs on. */
  record Built(ManagedChannel managed, boolean owned, String target, Channel channel) {
    /** Shuts the channel down when the client owns it; waits up to 10 s for calls to end. */
    void close() {
      if (owned) {
        shutdown(managed);
      }
    }
  }

  Built build() {
    ManagedChannel managed;
    boolean owned;
    String target;
    if (existing != null) {
      List<String> conflicts = new ArrayList<>();
      if (tls) {
        conflicts.add("tls/trustCertificates/clientCertificate");
      }
      if (authority != null) {
        conflicts.add("overrideAuthority");
      }
      if (maxMessageBytes != null) {
        conflicts.add("maxMessageBytes");
      }
      if (!conflicts.isEmpty()) {
        throw new IllegalStateException(
            "channel(...) was given: configure "
                + String.join(", ", conflicts)
                + " on that channel's own builder");
      }
      managed = existing;
      owned = false;
      target = addressSet ? address : existing.authority();
    } else {
      managed = newChannel();
      owned = true;
      target = address;
    }
    return new Built(managed, owned, target, intercepted(managed, token, interceptors));
  }

  /**
   * {@code channel} with the bearer-token interceptor (when there is a token) and then {@code
   * interceptors}, called in that order: the token interceptor first, so the caller's interceptors
   * see the {@code authorization} header.
   */
  static Channel intercepted(Channel channel, String token, List<ClientInterceptor> interceptors) {
    List<ClientInterceptor> order = new ArrayList<>();
    if (token != null) {
      order.add(new BearerTokenInterceptor(token));
    }
    order.addAll(interceptors);
    // ClientInterceptors.intercept calls the last interceptor of its list first.
    List<ClientInterceptor> reversed = new ArrayList<>(order);
    Collections.reverse(reversed);
    return reversed.isEmpty() ? channel : ClientInterceptors.intercept(channel, reversed);
  }

  private ManagedChannel newChannel() {
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
        Grpc.newChannelBuilder(address, credentials)
            .maxInboundMessageSize(
                maxMessageBytes == null
                    ? MlBridgeClient.DEFAULT_MAX_MESSAGE_BYTES
                    : maxMessageBytes);
    if (authority != null) {
      cb.overrideAuthority(authority);
    }
    return cb.build();
  }

  /** Shuts {@code channel} down and waits (up to 10 s) for calls in flight to end. */
  static void shutdown(ManagedChannel channel) {
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
}
