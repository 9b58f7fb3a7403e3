package dev.mlbridge.client;

import dev.mlbridge.v1.TrainProgress;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The one training loop of every model kind's {@code Train} stream (CRF and XGBoost alike): the
 * header, then the data messages, sent as fast as flow control lets them; each progress event
 * handed to the caller's callback; the call's one report returned.
 *
 * <p>Cancellation: should the data source or the callback throw, or the waiting thread be
 * interrupted ({@link CancelledException}), or the deadline pass, the call is cancelled and the
 * server stores nothing; what the source or the callback threw is rethrown as it is.
 */
final class Training {
  private Training() {}

  /**
   * Runs one training call.
   *
   * @param start the async stub's {@code train} method (with the deadline already applied)
   * @param header the first message
   * @param data the data messages, taken lazily as the transport is ready (on a gRPC thread)
   * @param progressOf a response's progress event, or null when it is not one
   * @param reportOf a response's report, or null when it is not one
   * @param onProgress receives each progress event (on a gRPC thread); may be null
   * @return the report
   * @throws MlBridgeException when the call fails, or ends without a report
   */
  static <Req, Resp, Report> Report run(
      Rpc rpc,
      Function<StreamObserver<Resp>, StreamObserver<Req>> start,
      Req header,
      Iterator<Req> data,
      Function<Resp, TrainProgress> progressOf,
      Function<Resp, Report> reportOf,
      Consumer<TrainProgress> onProgress) {
    AtomicReference<Report> report = new AtomicReference<>();
    StreamingUpload.run(
        start,
        Rpc.prepend(header, data),
        (Resp r) -> {
          TrainProgress progress = progressOf.apply(r);
          if (progress != null) {
            if (onProgress != null) {
              onProgress.accept(progress);
            }
            return;
          }
          Report rep = reportOf.apply(r);
          if (rep != null) {
            report.set(rep);
          }
        },
        rpc.target);
    if (report.get() == null) {
      throw new MlBridgeException(
          Status.Code.INTERNAL, "the server ended the training without a report");
    }
    return report.get();
  }
}
