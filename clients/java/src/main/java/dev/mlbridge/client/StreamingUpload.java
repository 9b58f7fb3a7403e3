package dev.mlbridge.client;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs a client-streaming or bidirectional call: sends the messages of {@code source} as fast as
 * the transport takes them (outbound flow control, so a large upload is never buffered whole),
 * half-closes, hands every response to {@code sink}, and waits for the call to end.
 */
final class StreamingUpload<Req, Resp> implements ClientResponseObserver<Req, Resp> {
  private final Iterator<Req> source;
  private final Consumer<Resp> sink;
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private ClientCallStreamObserver<Req> requests;
  private boolean halfClosed;

  /**
   * A failure on our side (reading the source, or the sink), reported in preference to CANCELLED.
   */
  private volatile RuntimeException localFailure;

  private StreamingUpload(Iterator<Req> source, Consumer<Resp> sink) {
    this.source = source;
    this.sink = sink;
  }

  /**
   * Starts the call with {@code start} (an async stub's streaming method), streams {@code source}
   * and blocks until the call ends.
   *
   * @throws MlBridgeException when the call fails
   * @throws RuntimeException what {@code source} or {@code sink} threw
   */
  static <Req, Resp> void run(
      Function<StreamObserver<Resp>, StreamObserver<Req>> start,
      Iterator<Req> source,
      Consumer<Resp> sink,
      String target) {
    StreamingUpload<Req, Resp> upload = new StreamingUpload<>(source, sink);
    start.apply(upload);
    try {
      upload.done.get();
    } catch (InterruptedException e) {
      upload.requests.cancel("interrupted", e);
      Thread.currentThread().interrupt();
      throw new CancelledException("interrupted while waiting for the server", e);
    } catch (ExecutionException e) {
      RuntimeException local = upload.localFailure;
      if (local != null) {
        throw local;
      }
      throw StatusMapping.map(e.getCause(), target);
    }
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<Req> requestStream) {
    this.requests = requestStream;
    requestStream.setOnReadyHandler(this::pump);
  }

  /** Sends while the transport is ready; called on every readiness change. */
  private synchronized void pump() {
    if (halfClosed || done.isDone()) {
      return;
    }
    try {
      while (requests.isReady()) {
        if (!source.hasNext()) {
          halfClosed = true;
          requests.onCompleted();
          return;
        }
        requests.onNext(source.next());
      }
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private synchronized void fail(RuntimeException e) {
    if (localFailure != null) {
      return;
    }
    localFailure = e;
    halfClosed = true;
    requests.cancel("client failed: " + e, e);
    done.completeExceptionally(e);
  }

  @Override
  public void onNext(Resp value) {
    if (localFailure != null) {
      return;
    }
    try {
      sink.accept(value);
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  @Override
  public void onError(Throwable t) {
    done.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    done.complete(null);
  }
}
