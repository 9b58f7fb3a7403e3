package dev.mlbridge.client;

import dev.mlbridge.v1.CrfServiceGrpc;
import dev.mlbridge.v1.CrfServicePredictRequest;
import dev.mlbridge.v1.CrfServiceTagRequest;
import dev.mlbridge.v1.CrfServiceTagResponse;
import dev.mlbridge.v1.CrfServiceTrainRequest;
import dev.mlbridge.v1.CrfServiceTrainResponse;
import dev.mlbridge.v1.CrfTrainReport;
import dev.mlbridge.v1.TrainProgress;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * CRFsuite sequence taggers (CrfService): {@link MlBridgeClient#crf()}. Trains from a CSV file in
 * the book's NER format or from {@link ItemSequence}s, and tags CSV files or sequences.
 *
 * <pre>{@code
 * CrfTrainReport report = client.crf().train("ner", Path.of("data/ner.csv"), CrfTrainOptions.book(), null);
 * List<String> tags = client.crf().predict("ner", Path.of("data/ner_predict.csv"));
 * }</pre>
 */
public final class CrfClient {
  private final Rpc rpc;
  private final CrfServiceGrpc.CrfServiceBlockingStub blocking;
  private final CrfServiceGrpc.CrfServiceStub async;

  CrfClient(Rpc rpc) {
    this.rpc = rpc;
    this.blocking = CrfServiceGrpc.newBlockingStub(rpc.channel);
    this.async = CrfServiceGrpc.newStub(rpc.channel);
  }

  /**
   * Trains a model on a CSV file in the book's NER format (with a {@code tag} column), uploaded in
   * 1 MiB chunks, and stores it as {@code model}. Interrupting the calling thread cancels the
   * training ({@link CancelledException}); the server then stores nothing.
   *
   * @param options the feature preset or template, algorithm and holdout; null for the server's
   *     defaults
   * @param onProgress receives each progress event (on a gRPC thread); may be null. What it throws
   *     cancels the training and is rethrown.
   * @return the final report
   * @throws java.io.UncheckedIOException when the file cannot be read (before any call)
   */
  public CrfTrainReport train(
      String model, Path csv, CrfTrainOptions options, Consumer<TrainProgress> onProgress) {
    try (FileChunks chunks = new FileChunks(csv, MlBridgeClient.CHUNK_SIZE)) {
      Iterator<CrfServiceTrainRequest> data =
          Rpc.map(chunks, c -> CrfServiceTrainRequest.newBuilder().setCsvChunk(c).build());
      return train(model, options, data, onProgress);
    }
  }

  /**
   * Trains a model on labelled sequences (each with one label per item, see {@link
   * ItemSequence#withLabels(List)}), sent packed in messages of about 64 Ki attributes. The
   * sequences are read once, lazily, as the upload proceeds (on a gRPC thread); one the wire form
   * cannot carry (e.g. without labels, {@code sequences[3]: ...}) cancels the training and is
   * thrown as an {@link IllegalArgumentException}; the server refuses the rest of bad data ({@link
   * InvalidInputException}, naming the position). Feature presets and templates do not apply: the
   * attributes are the sequences'.
   *
   * @see #train(String, Path, CrfTrainOptions, Consumer)
   */
  public CrfTrainReport train(
      String model,
      Iterable<ItemSequence> sequences,
      CrfTrainOptions options,
      Consumer<TrainProgress> onProgress) {
    Objects.requireNonNull(sequences, "sequences");
    Iterator<CrfServiceTrainRequest> data =
        Rpc.map(
            CrfPacking.labelledBatches(sequences, "sequences"),
            b -> CrfServiceTrainRequest.newBuilder().setSequences(b).build());
    return train(model, options, data, onProgress);
  }

  private CrfTrainReport train(
      String model,
      CrfTrainOptions options,
      Iterator<CrfServiceTrainRequest> data,
      Consumer<TrainProgress> onProgress) {
    CrfTrainOptions opts = options == null ? CrfTrainOptions.defaults() : options;
    return Training.run(
        rpc,
        rpc.stub(async)::train,
        CrfServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build(),
        data,
        (CrfServiceTrainResponse r) -> r.hasProgress() ? r.getProgress() : null,
        (CrfServiceTrainResponse r) -> r.hasReport() ? r.getReport() : null,
        onProgress);
  }

  /** Tags a CSV file in the book's predict format: one label per row, in file order. */
  public List<String> predict(String model, Path csv) {
    CrfServicePredictRequest request =
        CrfServicePredictRequest.newBuilder().setModelName(model).setCsv(Rpc.readFile(csv)).build();
    return rpc.call(() -> List.copyOf(rpc.stub(blocking).predict(request).getLabelsList()));
  }

  /**
   * Tags sequences (their labels, if any, are ignored): one {@link TaggedSequence} per sequence, in
   * order.
   *
   * @throws IllegalArgumentException for a name the wire form cannot carry (a NUL), naming its
   *     position ({@code sequences[2][0]: ...})
   * @throws InvalidInputException for other bad data (an empty name, a weight that is not finite,
   *     no sequences), the server's message naming the position
   */
  public List<TaggedSequence> tag(String model, List<ItemSequence> sequences) {
    return tag(model, sequences, false, false);
  }

  /**
   * Tags sequences; with {@code probability} each path's probability, with {@code marginals} per
   * item the marginal probability of every label.
   *
   * @see #tag(String, List)
   */
  public List<TaggedSequence> tag(
      String model, List<ItemSequence> sequences, boolean probability, boolean marginals) {
    Objects.requireNonNull(sequences, "sequences");
    CrfServiceTagRequest request =
        CrfServiceTagRequest.newBuilder()
            .setModelName(model)
            .setPacked(CrfPacking.pack(sequences, "sequences"))
            .setIncludeProbability(probability)
            .setIncludeMarginals(marginals)
            .build();
    CrfServiceTagResponse response = rpc.call(() -> rpc.stub(blocking).tag(request));
    return CrfPacking.unpack(
        response.getPacked(),
        response.getLabelsList(),
        request.getPacked().getSequenceLengthsList(),
        probability,
        marginals);
  }
}
