package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.mlbridge.v1.CrfServiceGrpc;
import dev.mlbridge.v1.CrfServiceTrainRequest;
import dev.mlbridge.v1.CrfServiceTrainResponse;
import dev.mlbridge.v1.CrfTrainHeader;
import dev.mlbridge.v1.CrfTrainReport;
import dev.mlbridge.v1.ModelInfo;
import dev.mlbridge.v1.TrainProgress;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's streaming upload and error mapping against an in-process fake of CrfService.Train
 * (no Node server needed): chunking, half-close, progress, report, and failures.
 */
class InProcessTest {
  private final AtomicReference<CrfTrainHeader> header = new AtomicReference<>();
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final List<Integer> chunkSizes = new ArrayList<>();
  private volatile Status failWith;
  private Server server;
  private MlBridgeClient client;

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(new FakeCrf()).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    client = new MlBridgeClient(channel);
  }

  @AfterEach
  void stop() {
    client.close();
    server.shutdownNow();
  }

  @Test
  void uploadsInOneMebibyteChunksThenHalfCloses(@TempDir Path dir) throws Exception {
    byte[] data = new byte[3 * (1 << 20) + 12345];
    new Random(1).nextBytes(data);
    Path csv = dir.resolve("big.csv");
    Files.write(csv, data);
    List<TrainProgress> progress = new ArrayList<>();
    CrfTrainReport report = client.trainCrf("m", csv, CrfTrainOptions.book(), progress::add);
    assertEquals("m", report.getModel().getName());
    assertEquals("m", header.get().getModelName());
    assertEquals("book", header.get().getFeaturePreset());
    assertArrayEquals(data, received.toByteArray());
    assertEquals(List.of(1 << 20, 1 << 20, 1 << 20, 12345), chunkSizes);
    assertEquals(2, progress.size());
    assertEquals(data.length, progress.get(1).getBytesReceived());
  }

  @Test
  void serverErrorsAreMapped(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("x.csv");
    Files.writeString(csv, "a,b\n");
    failWith = Status.INVALID_ARGUMENT.withDescription("line 3: bad");
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> client.trainCrf("m", csv, null, null));
    assertEquals("line 3: bad", e.getMessage());
    failWith = Status.RESOURCE_EXHAUSTED.withDescription("too many trainings");
    MlBridgeException other = assertThrows(MlBridgeException.class, () -> client.trainCrf("m", csv, null, null));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, other.getStatusCode());
    assertEquals("too many trainings", other.getMessage());
  }

  @Test
  void aFailingProgressCallbackCancelsTheCallAndSurfaces(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("x.csv");
    Files.writeString(csv, "a,b\n");
    IllegalStateException boom = new IllegalStateException("boom");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> client.trainCrf("m", csv, null, p -> {
      throw boom;
    }));
    assertSame(boom, e);
  }

  /** Collects the upload; answers with progress per chunk received and a report at half-close. */
  private final class FakeCrf extends CrfServiceGrpc.CrfServiceImplBase {
    @Override
    public StreamObserver<CrfServiceTrainRequest> train(StreamObserver<CrfServiceTrainResponse> responses) {
      return new StreamObserver<>() {
        private long bytes;

        @Override
        public void onNext(CrfServiceTrainRequest r) {
          if (r.hasHeader()) {
            header.set(r.getHeader());
            if (failWith != null) {
              responses.onError(failWith.asRuntimeException());
            }
            return;
          }
          ByteString chunk = r.getCsvChunk();
          chunkSizes.add(chunk.size());
          bytes += chunk.size();
          try {
            chunk.writeTo(received);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          if (failWith != null) {
            return;
          }
          responses.onNext(CrfServiceTrainResponse.newBuilder()
              .setProgress(TrainProgress.newBuilder().setStage("receiving").setBytesReceived(bytes / 2)).build());
          responses.onNext(CrfServiceTrainResponse.newBuilder()
              .setProgress(TrainProgress.newBuilder().setStage("receiving").setBytesReceived(bytes)).build());
          responses.onNext(CrfServiceTrainResponse.newBuilder()
              .setReport(CrfTrainReport.newBuilder().setModel(ModelInfo.newBuilder().setName(header.get().getModelName())))
              .build());
          responses.onCompleted();
        }
      };
    }
  }
}
