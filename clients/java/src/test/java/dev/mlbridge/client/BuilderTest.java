package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlbridge.v1.CountWordsRequest;
import dev.mlbridge.v1.CountWordsResponse;
import dev.mlbridge.v1.TextServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The builder's {@code channel(existing)} and {@code intercept(...)}. */
@ExtendWith(MlBridgeServerExtension.class)
class BuilderTest {
  private static final Metadata.Key<String> TRACE =
      Metadata.Key.of("x-trace", Metadata.ASCII_STRING_MARSHALLER);

  /** Adds {@code x-trace: <tag>} (appending to any already there) and records what it saw. */
  private static final class Tagging implements ClientInterceptor {
    final String tag;
    final AtomicInteger calls = new AtomicInteger();
    final List<String> seenTraces = new CopyOnWriteArrayList<>();
    final List<String> seenAuthorization = new CopyOnWriteArrayList<>();

    Tagging(String tag) {
      this.tag = tag;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
      calls.incrementAndGet();
      return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(
          next.newCall(method, callOptions)) {
        @Override
        public void start(Listener<RespT> responseListener, Metadata headers) {
          seenTraces.add(String.valueOf(headers.get(TRACE)));
          seenAuthorization.add(String.valueOf(headers.get(BearerTokenInterceptor.AUTHORIZATION)));
          headers.put(TRACE, tag);
          super.start(responseListener, headers);
        }
      };
    }
  }

  @Test
  void interceptorsRunInOrderAfterTheTokenAndTheServerSeesTheirHeaders() throws Exception {
    List<List<String>> serverSaw = new CopyOnWriteArrayList<>();
    ServerInterceptor capture =
        new ServerInterceptor() {
          @Override
          public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
              ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
            List<String> traces = new java.util.ArrayList<>();
            headers.getAll(TRACE).forEach(traces::add);
            traces.add(headers.get(BearerTokenInterceptor.AUTHORIZATION));
            serverSaw.add(traces);
            return next.startCall(call, headers);
          }
        };
    TextServiceGrpc.TextServiceImplBase text =
        new TextServiceGrpc.TextServiceImplBase() {
          @Override
          public void countWords(
              CountWordsRequest request, StreamObserver<CountWordsResponse> response) {
            response.onNext(
                CountWordsResponse.newBuilder().putCounts(request.getText(), 1).build());
            response.onCompleted();
          }
        };
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(ServerInterceptors.intercept(text, capture))
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    Tagging first = new Tagging("first");
    Tagging second = new Tagging("second");
    try (MlBridgeClient client =
        MlBridgeClient.builder()
            .channel(channel)
            .token("t0k")
            .intercept(first)
            .intercept(second)
            .build()) {
      assertEquals(1L, client.text().countWords("a").get("a"));
      assertEquals(1L, client.text().countWords("b").get("b"));
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
    assertEquals(2, first.calls.get());
    assertEquals(2, second.calls.get());
    // The token first, then the interceptors in the order given.
    assertEquals(List.of("Bearer t0k", "Bearer t0k"), first.seenAuthorization);
    assertEquals(List.of("null", "null"), first.seenTraces);
    assertEquals(List.of("first", "first"), second.seenTraces);
    assertEquals(List.of("first", "second", "Bearer t0k"), serverSaw.get(0));
    assertEquals(2, serverSaw.size());
  }

  @Test
  void aBorrowedChannelOutlivesTheClient(ServerProcess server) throws Exception {
    ManagedChannel channel =
        ManagedChannelBuilder.forTarget(server.address()).usePlaintext().build();
    try {
      AtomicInteger calls = new AtomicInteger();
      ClientInterceptor counting =
          new ClientInterceptor() {
            @Override
            public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
                MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
              calls.incrementAndGet();
              return next.newCall(method, callOptions);
            }
          };
      try (MlBridgeClient client =
          MlBridgeClient.builder().channel(channel).intercept(counting).build()) {
        assertEquals(channel.authority(), client.address());
        assertEquals(2L, client.text().countWords("a b a").get("a"));
        assertTrue(client.models().list().size() >= 0);
      }
      assertEquals(2, calls.get());
      assertFalse(channel.isShutdown(), "close() shut down a channel it does not own");
      // Still usable, by another client of either kind.
      try (MlBridgeClient again = MlBridgeClient.builder().channel(channel).build();
          InferenceClient inference =
              InferenceClient.builder().channel(channel).address("named").build()) {
        assertEquals(1L, again.text().countWords("x").get("x"));
        assertTrue(inference.live());
        assertEquals("named", inference.address());
      }
      assertFalse(channel.isShutdown());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void anOwnedChannelIsShutDownAndTransportSettingsConflictWithABorrowedOne(ServerProcess server) {
    ManagedChannel channel =
        ManagedChannelBuilder.forTarget(server.address()).usePlaintext().build();
    try {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> MlBridgeClient.builder().channel(channel).tls().maxMessageBytes(1).build());
      assertTrue(e.getMessage().contains("tls"), e.getMessage());
      assertTrue(e.getMessage().contains("maxMessageBytes"), e.getMessage());
      assertThrows(
          IllegalStateException.class,
          () -> InferenceClient.builder().channel(channel).overrideAuthority("x").build());
    } finally {
      channel.shutdownNow();
    }
    MlBridgeClient owned = server.client();
    owned.close();
    assertThrows(MlBridgeException.class, () -> owned.text().countWords("x"));
  }
}
