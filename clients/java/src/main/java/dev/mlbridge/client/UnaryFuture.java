package dev.mlbridge.client;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * A unary call's response observer that completes a {@link CompletableFuture}: with the converted
 * response, or exceptionally with a {@link MlBridgeException}. Cancelling the future cancels the
 * call.
 */
final class UnaryFuture<Req, Resp, T> implements ClientResponseObserver<Req, Resp> {
  private final CompletableFuture<T> future = new CompletableFuture<>();
  private final Function<Resp, T> convert;
  private final String target;
  private Resp response;

  UnaryFuture(Function<Resp, T> convert, String target) {
    this.convert = convert;
    this.target = target;
  }

  CompletableFuture<T> future() {
    return future;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<Req> requestStream) {
    future.whenComplete(
        (value, failure) -> {
          if (future.isCancelled()) {
            requestStream.cancel("cancelled by the caller", null);
          }
        });
  }

  @Override
  public void onNext(Resp value) {
    response = value;
  }

  @Override
  public void onError(Throwable t) {
    future.completeExceptionally(StatusMapping.map(t, target));
  }

  @Override
  public void onCompleted() {
    try {
      future.complete(convert.apply(response));
    } catch (RuntimeException e) {
      future.completeExceptionally(e);
    }
  }
}
