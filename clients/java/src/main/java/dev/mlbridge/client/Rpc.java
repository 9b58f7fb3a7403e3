package dev.mlbridge.client;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * What the service clients of one {@link MlBridgeClient} share: the channel (with the token
 * interceptor), the server address for messages, the per-call deadline, and the ways of running a
 * call so that every failure becomes a {@link MlBridgeException}.
 */
final class Rpc {
  /** The channel to make stubs on; sends the bearer token when one is set. */
  final Channel channel;

  /** The server address, for error messages. */
  final String target;

  private final Duration deadline;

  Rpc(Channel channel, String target, Duration deadline) {
    this.channel = channel;
    this.target = target;
    this.deadline = deadline;
  }

  /** {@code stub} with the client's deadline, counted from now; call once per call. */
  <S extends AbstractStub<S>> S stub(S stub) {
    return deadline == null
        ? stub
        : stub.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Runs a blocking call, mapping its failure. */
  <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw StatusMapping.map(e, target);
    }
  }

  /**
   * Starts a unary call on an async stub's method; the future completes with the converted response
   * or a {@link MlBridgeException}, and cancelling it cancels the call.
   */
  <Req, Resp, T> CompletableFuture<T> callAsync(
      BiConsumer<Req, StreamObserver<Resp>> method, Req request, Function<Resp, T> convert) {
    UnaryFuture<Req, Resp, T> f = new UnaryFuture<>(convert, target);
    try {
      method.accept(request, f);
    } catch (RuntimeException e) {
      f.future().completeExceptionally(StatusMapping.map(e, target));
    }
    return f.future();
  }

  /**
   * Runs a client-streaming call ({@code start}, an async stub's method) that sends {@code
   * requests} with flow control, and returns its one response.
   */
  <Req, Resp> Resp upload(
      Function<StreamObserver<Resp>, StreamObserver<Req>> start, Iterator<Req> requests) {
    AtomicReference<Resp> response = new AtomicReference<>();
    StreamingUpload.run(start, requests, response::set, target);
    return requireResult(response.get());
  }

  /** {@code result}, or an INTERNAL failure when the server ended the call without one. */
  static <T> T requireResult(T result) {
    if (result == null) {
      throw new MlBridgeException(
          Status.Code.INTERNAL, "the server ended the call without a result");
    }
    return result;
  }

  /** A whole local file, for a unary request; an {@link UncheckedIOException} when unreadable. */
  static ByteString readFile(Path file) {
    try {
      return ByteString.copyFrom(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** The messages of {@code source}, each converted by {@code f} when taken. */
  static <A, B> Iterator<B> map(Iterator<A> source, Function<A, B> f) {
    return new Iterator<B>() {
      @Override
      public boolean hasNext() {
        return source.hasNext();
      }

      @Override
      public B next() {
        if (!source.hasNext()) {
          throw new NoSuchElementException();
        }
        return f.apply(source.next());
      }
    };
  }

  /** {@code first}, then the messages of {@code rest}. */
  static <T> Iterator<T> prepend(T first, Iterator<T> rest) {
    return new Iterator<T>() {
      private boolean firstTaken;

      @Override
      public boolean hasNext() {
        return !firstTaken || rest.hasNext();
      }

      @Override
      public T next() {
        if (!firstTaken) {
          firstTaken = true;
          return first;
        }
        return rest.next();
      }
    };
  }
}
