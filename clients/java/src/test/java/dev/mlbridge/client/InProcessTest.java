package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.mlbridge.v1.CrfLabelledSequences;
import dev.mlbridge.v1.CrfPackedSequences;
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
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's training loop and error mapping against an in-process fake of CrfService.Train (no
 * Node server needed): chunking, packed sequence batches, half-close, progress, report, failures
 * and cancellation.
 */
class InProcessTest {
  private final AtomicReference<CrfTrainHeader> header = new AtomicReference<>();
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final List<Integer> chunkSizes = new ArrayList<>();
  private final List<CrfLabelledSequences> batches = new CopyOnWriteArrayList<>();
  private final CountDownLatch headerSeen = new CountDownLatch(1);
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private volatile Status failWith;

  /** When set, the fake never answers: the call ends only when the client cancels it. */
  private volatile boolean hang;

  private Server server;
  private MlBridgeClient client;

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(new FakeCrf())
            .build()
            .start();
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
    CrfTrainReport report = client.crf().train("m", csv, CrfTrainOptions.book(), progress::add);
    assertEquals("m", report.getModel().getName());
    assertEquals("m", header.get().getModelName());
    assertEquals("book", header.get().getFeaturePreset());
    assertArrayEquals(data, received.toByteArray());
    assertEquals(List.of(1 << 20, 1 << 20, 1 << 20, 12345), chunkSizes);
    assertEquals(2, progress.size());
    assertEquals(data.length, progress.get(1).getBytesReceived());
  }

  @Test
  void sequencesGoPackedInBatchesOfAbout64KiAttributes() {
    // 2200 sequences of 10 items of 3 attributes (30 per sequence): a batch closes once it holds
    // 65,536 attributes, i.e. after 2185 sequences (65,550).
    List<ItemSequence> wide = new ArrayList<>();
    for (int s = 0; s < 2200; s++) {
      ItemSequence.Builder b = ItemSequence.builder();
      List<String> labels = new ArrayList<>();
      for (int t = 0; t < 10; t++) {
        b.item("w=" + s + "." + t, "lemma=λ" + t, "bias");
        labels.add(t % 2 == 0 ? "O" : "B-geo");
      }
      wide.add(b.labels(labels).build());
    }
    client.crf().train("m", wide, null, null);
    assertEquals(List.of(2185, 15), sequenceCounts());
    assertEquals(wide, unpackReceived());
    assertTrue(
        batches.stream().allMatch(b -> b.getSequences().getAttributeWeightsCount() == 0),
        "all weights 1.0: none sent");

    // One attribute per sequence, one weight not 1.0: weights go in its batch only.
    batches.clear();
    List<ItemSequence> narrow = new ArrayList<>();
    for (int s = 0; s < 70_000; s++) {
      narrow.add(
          ItemSequence.builder()
              .item(List.of("w=" + s), new double[] {s == 300 ? 0.5 : 1.0})
              .labels(List.of("O"))
              .build());
    }
    client.crf().train("m", narrow, null, null);
    assertEquals(List.of(65_536, 4464), sequenceCounts());
    assertEquals(narrow, unpackReceived());
    assertEquals(
        List.of(65_536, 0),
        batches.stream().map(b -> b.getSequences().getAttributeWeightsCount()).toList());
  }

  @Test
  void serverErrorsAreMapped(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("x.csv");
    Files.writeString(csv, "a,b\n");
    failWith = Status.INVALID_ARGUMENT.withDescription("line 3: bad");
    InvalidInputException e =
        assertThrows(InvalidInputException.class, () -> client.crf().train("m", csv, null, null));
    assertEquals("line 3: bad", e.getMessage());
    failWith = Status.RESOURCE_EXHAUSTED.withDescription("too many trainings");
    ResourceExhaustedException other =
        assertThrows(
            ResourceExhaustedException.class, () -> client.crf().train("m", csv, null, null));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, other.getStatusCode());
    assertEquals("too many trainings", other.getMessage());
    failWith = Status.ALREADY_EXISTS.withDescription("model 'm' already exists");
    assertThrows(
        ModelExistsException.class,
        () ->
            client
                .crf()
                .train("m", csv, CrfTrainOptions.builder().failIfExists(true).build(), null));
  }

  @Test
  void aFailingProgressCallbackCancelsTheCallAndSurfaces(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("x.csv");
    Files.writeString(csv, "a,b\n");
    IllegalStateException boom = new IllegalStateException("boom");
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                client
                    .crf()
                    .train(
                        "m",
                        csv,
                        null,
                        p -> {
                          throw boom;
                        }));
    assertSame(boom, e);
  }

  @Test
  void interruptingTheCallerCancelsTheTraining(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("x.csv");
    Files.writeString(csv, "a,b\n");
    hang = true;
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
    Thread caller =
        new Thread(
            () -> {
              try {
                client.crf().train("m", csv, null, null);
              } catch (Throwable t) {
                thrown.set(t);
              }
              stillInterrupted.set(Thread.currentThread().isInterrupted());
            });
    caller.start();
    assertTrue(headerSeen.await(30, TimeUnit.SECONDS), "the header arrives");
    caller.interrupt();
    caller.join(30_000);
    assertTrue(thrown.get() instanceof CancelledException, String.valueOf(thrown.get()));
    assertEquals(Status.Code.CANCELLED, ((MlBridgeException) thrown.get()).getStatusCode());
    assertTrue(stillInterrupted.get(), "the interrupt status is kept");
    assertTrue(cancelled.await(30, TimeUnit.SECONDS), "the server sees the call cancelled");
  }

  @Test
  void aBadSequenceCancelsTheCallAndSurfaces() throws Exception {
    List<ItemSequence> sequences = new ArrayList<>();
    for (int s = 0; s < 70_000; s++) {
      sequences.add(ItemSequence.of(List.of(List.of("w=" + s))).withLabels(List.of("O")));
    }
    sequences.set(69_000, ItemSequence.of(List.of(List.of("w=a\0b"))).withLabels(List.of("O")));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> client.crf().train("m", sequences, null, null));
    assertEquals(
        "sequences[69000][0]: an attribute name must hold no NUL character, got \"w=a\\u0000b\"",
        e.getMessage());
    // Batches of 65,536 attributes: sequence 69,000 is in the second, which is never sent.
    assertTrue(batches.size() <= 1, batches.size() + " batches");
    assertTrue(cancelled.await(30, TimeUnit.SECONDS), "the server sees the call cancelled");
  }

  private List<Integer> sequenceCounts() {
    return batches.stream().map(b -> b.getSequences().getSequenceLengthsCount()).toList();
  }

  /** The received batches decoded back to sequences: the inverse of the client's packing. */
  private List<ItemSequence> unpackReceived() {
    List<ItemSequence> out = new ArrayList<>();
    for (CrfLabelledSequences batch : batches) {
      CrfPackedSequences p = batch.getSequences();
      String[] names = p.getAttributeNames().toString(StandardCharsets.UTF_8).split("\0", -1);
      int attributes = p.getItemAttributeCountsList().stream().mapToInt(Integer::intValue).sum();
      assertEquals(attributes + 1, names.length, "NUL-terminated names, one per attribute");
      assertEquals("", names[attributes]);
      int item = 0;
      int a = 0;
      for (int length : p.getSequenceLengthsList()) {
        ItemSequence.Builder b = ItemSequence.builder();
        for (int t = 0; t < length; t++, item++) {
          int n = p.getItemAttributeCounts(item);
          double[] w = new double[n];
          for (int k = 0; k < n; k++) {
            w[k] = p.getAttributeWeightsCount() == 0 ? 1.0 : p.getAttributeWeights(a + k);
          }
          b.item(List.of(names).subList(a, a + n), w);
          a += n;
        }
        out.add(b.labels(batch.getLabelsList().subList(item - length, item)).build());
      }
      assertEquals(item, batch.getLabelsCount(), "one label per item");
    }
    return out;
  }

  /** Collects the upload; answers with progress per chunk received and a report at half-close. */
  private final class FakeCrf extends CrfServiceGrpc.CrfServiceImplBase {
    @Override
    public StreamObserver<CrfServiceTrainRequest> train(
        StreamObserver<CrfServiceTrainResponse> responses) {
      // Called however far the call got (onError below is not, once the client has half-closed).
      ((ServerCallStreamObserver<CrfServiceTrainResponse>) responses)
          .setOnCancelHandler(cancelled::countDown);
      return new StreamObserver<>() {
        private long bytes;

        @Override
        public void onNext(CrfServiceTrainRequest r) {
          if (r.hasHeader()) {
            header.set(r.getHeader());
            headerSeen.countDown();
            if (failWith != null) {
              responses.onError(failWith.asRuntimeException());
            }
            return;
          }
          if (r.hasSequences()) {
            batches.add(r.getSequences());
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
          if (failWith != null || hang) {
            return;
          }
          responses.onNext(
              CrfServiceTrainResponse.newBuilder()
                  .setProgress(
                      TrainProgress.newBuilder().setStage("receiving").setBytesReceived(bytes / 2))
                  .build());
          responses.onNext(
              CrfServiceTrainResponse.newBuilder()
                  .setProgress(
                      TrainProgress.newBuilder().setStage("receiving").setBytesReceived(bytes))
                  .build());
          responses.onNext(
              CrfServiceTrainResponse.newBuilder()
                  .setReport(
                      CrfTrainReport.newBuilder()
                          .setModel(ModelInfo.newBuilder().setName(header.get().getModelName())))
                  .build());
          responses.onCompleted();
        }
      };
    }
  }
}
