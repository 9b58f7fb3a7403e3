package dev.mlbridge.client;

import com.google.protobuf.ByteString;
import dev.mlbridge.v1.CountWordsRequest;
import dev.mlbridge.v1.CountWordsResponse;
import dev.mlbridge.v1.CountWordsStreamRequest;
import dev.mlbridge.v1.CountWordsStreamResponse;
import dev.mlbridge.v1.CrfAttribute;
import dev.mlbridge.v1.CrfItem;
import dev.mlbridge.v1.CrfSequence;
import dev.mlbridge.v1.CrfSequences;
import dev.mlbridge.v1.CrfServiceGrpc;
import dev.mlbridge.v1.CrfServicePredictRequest;
import dev.mlbridge.v1.CrfServiceTagRequest;
import dev.mlbridge.v1.CrfServiceTagResponse;
import dev.mlbridge.v1.CrfServiceTrainRequest;
import dev.mlbridge.v1.CrfServiceTrainResponse;
import dev.mlbridge.v1.CrfTaggedSequence;
import dev.mlbridge.v1.CrfTrainReport;
import dev.mlbridge.v1.DeleteModelRequest;
import dev.mlbridge.v1.DenseMatrix;
import dev.mlbridge.v1.ExportModelRequest;
import dev.mlbridge.v1.ExportModelResponse;
import dev.mlbridge.v1.GetModelRequest;
import dev.mlbridge.v1.ImportModelHeader;
import dev.mlbridge.v1.ImportModelRequest;
import dev.mlbridge.v1.ImportModelResponse;
import dev.mlbridge.v1.ListModelsRequest;
import dev.mlbridge.v1.ModelFormat;
import dev.mlbridge.v1.ModelInfo;
import dev.mlbridge.v1.ModelKind;
import dev.mlbridge.v1.ModelServiceGrpc;
import dev.mlbridge.v1.PredictOutput;
import dev.mlbridge.v1.TextServiceGrpc;
import dev.mlbridge.v1.TrainProgress;
import dev.mlbridge.v1.XgboostServiceGrpc;
import dev.mlbridge.v1.XgboostServicePredictRequest;
import dev.mlbridge.v1.XgboostServiceTrainRequest;
import dev.mlbridge.v1.XgboostServiceTrainResponse;
import dev.mlbridge.v1.XgboostTrainReport;
import dev.mlbridge.v1.XgboostTrainRows;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.AbstractStub;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A client of the mlbridge model server: CRF and XGBoost training and prediction, word counts
 * and the model store, over one gRPC channel.
 *
 * <pre>{@code
 * try (MlBridgeClient client = MlBridgeClient.builder().build()) {   // MLBRIDGE_ADDRESS or localhost:50051
 *   client.trainXgboost("xgb.model", Path.of("data/iris.csv"), XgboostTrainOptions.iris(),
 *       p -> System.out.println(p.getEvalLog()));
 *   String species = client.predictCsv("xgb.model", Path.of("data/predict.csv")).className(0);
 * }
 * }</pre>
 *
 * <p>Every failure is an unchecked {@link MlBridgeException} carrying the server's message: {@link
 * ModelNotFoundException}, {@link InvalidInputException}, {@link ServerUnavailableException},
 * {@link DeadlineExceededException}, {@link AuthenticationException}, or the base class for other
 * status codes. Local file errors are {@link UncheckedIOException}s. Instances are thread-safe;
 * progress callbacks run on gRPC threads.
 */
public final class MlBridgeClient implements AutoCloseable {
  /** Environment variable holding the server address ({@code host:port}). */
  public static final String ADDRESS_ENV = "MLBRIDGE_ADDRESS";
  /** Address used when {@value #ADDRESS_ENV} is not set. */
  public static final String DEFAULT_ADDRESS = "localhost:50051";
  /** Size of the chunks that uploads are sent in. */
  static final int CHUNK_SIZE = 1 << 20;
  /** Largest message received; the server's default limit. */
  static final int DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

  private final ManagedChannel channel;
  private final String target;
  private final Duration deadline;
  private final CrfServiceGrpc.CrfServiceBlockingStub crf;
  private final CrfServiceGrpc.CrfServiceStub crfAsync;
  private final XgboostServiceGrpc.XgboostServiceBlockingStub xgb;
  private final XgboostServiceGrpc.XgboostServiceStub xgbAsync;
  private final TextServiceGrpc.TextServiceBlockingStub text;
  private final TextServiceGrpc.TextServiceStub textAsync;
  private final ModelServiceGrpc.ModelServiceBlockingStub models;
  private final ModelServiceGrpc.ModelServiceStub modelsAsync;

  /** For tests: a client over an existing channel, which {@link #close()} shuts down. */
  MlBridgeClient(ManagedChannel channel) {
    this(channel, channel.authority(), null, null);
  }

  MlBridgeClient(ManagedChannel channel, String target, String token, Duration deadline) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.target = target;
    this.deadline = deadline;
    Channel ch = token == null ? channel : ClientInterceptors.intercept(channel, new BearerTokenInterceptor(token));
    this.crf = CrfServiceGrpc.newBlockingStub(ch);
    this.crfAsync = CrfServiceGrpc.newStub(ch);
    this.xgb = XgboostServiceGrpc.newBlockingStub(ch);
    this.xgbAsync = XgboostServiceGrpc.newStub(ch);
    this.text = TextServiceGrpc.newBlockingStub(ch);
    this.textAsync = TextServiceGrpc.newStub(ch);
    this.models = ModelServiceGrpc.newBlockingStub(ch);
    this.modelsAsync = ModelServiceGrpc.newStub(ch);
  }

  /** A builder whose address is {@code $MLBRIDGE_ADDRESS}, or {@value #DEFAULT_ADDRESS}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The server address this client talks to. */
  public String address() {
    return target;
  }

  // ---------------------------------------------------------------------------------- CRF

  /**
   * Trains a CRF model on a CSV file in the book's NER format (with a {@code tag} column),
   * uploaded in 1 MiB chunks.
   *
   * @param onProgress receives each progress event (on a gRPC thread); may be null
   * @return the final report
   */
  public CrfTrainReport trainCrf(String model, Path csv, CrfTrainOptions options, Consumer<TrainProgress> onProgress) {
    CrfTrainOptions opts = options == null ? CrfTrainOptions.defaults() : options;
    try (FileChunks chunks = new FileChunks(csv, CHUNK_SIZE)) {
      return trainCrf(
          prepend(
              CrfServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build(),
              map(chunks, c -> CrfServiceTrainRequest.newBuilder().setCsvChunk(c).build())),
          onProgress);
    }
  }

  /** Trains a CRF model on structured sequences (each with one label per item). */
  public CrfTrainReport trainCrf(
      String model, List<CrfSequence> sequences, CrfTrainOptions options, Consumer<TrainProgress> onProgress) {
    CrfTrainOptions opts = options == null ? CrfTrainOptions.defaults() : options;
    List<CrfServiceTrainRequest> requests = new ArrayList<>();
    requests.add(CrfServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build());
    CrfSequences.Builder batch = CrfSequences.newBuilder();
    long batchBytes = 0;
    for (CrfSequence s : sequences) {
      batch.addSequences(s);
      batchBytes += s.getSerializedSize() + 8;
      if (batchBytes >= CHUNK_SIZE) {
        requests.add(CrfServiceTrainRequest.newBuilder().setSequences(batch).build());
        batch = CrfSequences.newBuilder();
        batchBytes = 0;
      }
    }
    if (batch.getSequencesCount() > 0 || requests.size() == 1) {
      requests.add(CrfServiceTrainRequest.newBuilder().setSequences(batch).build());
    }
    return trainCrf(requests.iterator(), onProgress);
  }

  private CrfTrainReport trainCrf(Iterator<CrfServiceTrainRequest> requests, Consumer<TrainProgress> onProgress) {
    AtomicReference<CrfTrainReport> report = new AtomicReference<>();
    StreamingUpload.run(
        stub(crfAsync)::train,
        requests,
        (CrfServiceTrainResponse r) -> {
          if (r.hasProgress()) {
            if (onProgress != null) {
              onProgress.accept(r.getProgress());
            }
          } else if (r.hasReport()) {
            report.set(r.getReport());
          }
        },
        target);
    return requireReport(report.get());
  }

  /** Tags a CSV file in the book's predict format: one label per row, in file order. */
  public List<String> predictCrf(String model, Path csv) {
    CrfServicePredictRequest request =
        CrfServicePredictRequest.newBuilder().setModelName(model).setCsv(readFile(csv)).build();
    return call(() -> List.copyOf(stub(crf).predict(request).getLabelsList()));
  }

  /** Tags structured sequences: one list of labels per sequence, in order. */
  public List<List<String>> tag(String model, List<CrfSequence> sequences) {
    CrfServiceTagResponse response =
        tag(CrfServiceTagRequest.newBuilder().setModelName(model).addAllSequences(sequences).build());
    List<List<String>> out = new ArrayList<>(response.getSequencesCount());
    for (CrfTaggedSequence s : response.getSequencesList()) {
      out.add(List.copyOf(s.getLabelsList()));
    }
    return out;
  }

  /** Tags with the full request (probabilities, marginals). */
  public CrfServiceTagResponse tag(CrfServiceTagRequest request) {
    return call(() -> stub(crf).tag(request));
  }

  /**
   * A sequence whose items have the given attribute names (weight 1), e.g. for the book's preset
   * {@code [["thousand", "of"], ["of", "demonstr"]]} (lemma, next-lemma).
   */
  public static CrfSequence sequenceOf(List<List<String>> attributeNamesPerItem) {
    CrfSequence.Builder s = CrfSequence.newBuilder();
    for (List<String> names : attributeNamesPerItem) {
      CrfItem.Builder item = CrfItem.newBuilder();
      for (String name : names) {
        item.addAttributes(CrfAttribute.newBuilder().setName(name));
      }
      s.addItems(item);
    }
    return s.build();
  }

  // ------------------------------------------------------------------------------ XGBoost

  /**
   * Trains a booster on a CSV file with a header row (e.g. the book's iris.csv), uploaded in 1 MiB
   * chunks.
   *
   * @param onProgress receives each progress event (one per boosting round, with its eval log),
   *     on a gRPC thread; may be null
   */
  public XgboostTrainReport trainXgboost(
      String model, Path csv, XgboostTrainOptions options, Consumer<TrainProgress> onProgress) {
    XgboostTrainOptions opts = options == null ? XgboostTrainOptions.defaults() : options;
    try (FileChunks chunks = new FileChunks(csv, CHUNK_SIZE)) {
      return trainXgboost(
          prepend(
              XgboostServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build(),
              map(chunks, c -> XgboostServiceTrainRequest.newBuilder().setCsvChunk(c).build())),
          onProgress);
    }
  }

  /** Trains a booster on a feature matrix (one array per row) and one label per row. */
  public XgboostTrainReport trainXgboost(
      String model, float[][] features, float[] labels, XgboostTrainOptions options, Consumer<TrainProgress> onProgress) {
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(labels, "labels");
    if (labels.length != features.length) {
      throw new IllegalArgumentException(features.length + " rows but " + labels.length + " labels");
    }
    int cols = columns(features);
    XgboostTrainOptions opts = options == null ? XgboostTrainOptions.defaults() : options;
    List<XgboostServiceTrainRequest> requests = new ArrayList<>();
    requests.add(XgboostServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build());
    int rowsPerMessage = Math.max(1, CHUNK_SIZE / (4 * (cols + 1)));
    for (int start = 0; start < features.length || start == 0; start += rowsPerMessage) {
      int end = Math.min(features.length, start + rowsPerMessage);
      DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(end - start).setCols(cols);
      XgboostTrainRows.Builder rows = XgboostTrainRows.newBuilder();
      for (int r = start; r < end; r++) {
        for (float v : features[r]) {
          m.addValues(v);
        }
        rows.addLabels(labels[r]);
      }
      requests.add(XgboostServiceTrainRequest.newBuilder().setRows(rows.setFeatures(m)).build());
      if (end >= features.length) {
        break;
      }
    }
    return trainXgboost(requests.iterator(), onProgress);
  }

  private XgboostTrainReport trainXgboost(Iterator<XgboostServiceTrainRequest> requests, Consumer<TrainProgress> onProgress) {
    AtomicReference<XgboostTrainReport> report = new AtomicReference<>();
    StreamingUpload.run(
        stub(xgbAsync)::train,
        requests,
        (XgboostServiceTrainResponse r) -> {
          if (r.hasProgress()) {
            if (onProgress != null) {
              onProgress.accept(r.getProgress());
            }
          } else if (r.hasReport()) {
            report.set(r.getReport());
          }
        },
        target);
    return requireReport(report.get());
  }

  /** Predicts rows (one array per row) with the objective's natural output. */
  public Prediction predict(String model, float[][] rows) {
    return predict(model, rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /** Predicts rows (one array per row); {@code output} chooses classes, probabilities or margins. */
  public Prediction predict(String model, float[][] rows, PredictOutput output) {
    return predict(matrixRequest(model, rows, output));
  }

  /** Predicts {@code rows × cols} values given row-major. */
  public Prediction predict(String model, float[] rowMajor, int rows, int cols) {
    return predict(model, rowMajor, rows, cols, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /** Predicts {@code rows × cols} values given row-major, with the chosen output. */
  public Prediction predict(String model, float[] rowMajor, int rows, int cols, PredictOutput output) {
    return predict(matrixRequest(model, rowMajor, rows, cols, output));
  }

  /** Predicts the rows of a CSV file with a header row holding the model's feature columns. */
  public Prediction predictCsv(String model, Path csv) {
    return predictCsv(model, csv, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /** Predicts the rows of a CSV file, with the chosen output. */
  public Prediction predictCsv(String model, Path csv, PredictOutput output) {
    return predict(XgboostServicePredictRequest.newBuilder()
        .setModelName(model)
        .setCsv(readFile(csv))
        .setOutput(output)
        .build());
  }

  /** Predicts with a full request. */
  public Prediction predict(XgboostServicePredictRequest request) {
    return call(() -> Prediction.of(stub(xgb).predict(request)));
  }

  /** {@link #predict(String, float[][])} without blocking. */
  public CompletableFuture<Prediction> predictAsync(String model, float[][] rows) {
    return predictAsync(matrixRequest(model, rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED));
  }

  /** {@link #predict(String, float[], int, int)} without blocking. */
  public CompletableFuture<Prediction> predictAsync(String model, float[] rowMajor, int rows, int cols) {
    return predictAsync(matrixRequest(model, rowMajor, rows, cols, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED));
  }

  /** Predicts with a full request, without blocking; fails with a {@link MlBridgeException}. */
  public CompletableFuture<Prediction> predictAsync(XgboostServicePredictRequest request) {
    UnaryFuture<XgboostServicePredictRequest, dev.mlbridge.v1.XgboostServicePredictResponse, Prediction> f =
        new UnaryFuture<>(Prediction::of, target);
    try {
      stub(xgbAsync).predict(request, f);
    } catch (RuntimeException e) {
      f.future().completeExceptionally(StatusMapping.map(e, target));
    }
    return f.future();
  }

  // --------------------------------------------------------------------------------- text

  /**
   * Counts the words of {@code text} (runs of letters, digits and underscores, case-sensitive),
   * most frequent first.
   */
  public Map<String, Long> countWords(String text) {
    CountWordsRequest request = CountWordsRequest.newBuilder().setText(text).build();
    return call(() -> sortedCounts(stub(this.text).countWords(request).getCountsMap()));
  }

  /** {@link #countWords(String)} without blocking. */
  public CompletableFuture<Map<String, Long>> countWordsAsync(String text) {
    UnaryFuture<CountWordsRequest, CountWordsResponse, Map<String, Long>> f =
        new UnaryFuture<>(r -> sortedCounts(r.getCountsMap()), target);
    try {
      stub(textAsync).countWords(CountWordsRequest.newBuilder().setText(text).build(), f);
    } catch (RuntimeException e) {
      f.future().completeExceptionally(StatusMapping.map(e, target));
    }
    return f.future();
  }

  /** Counts the words of a UTF-8 text file of any size, streamed in 1 MiB chunks. */
  public Map<String, Long> countWordsInFile(Path file) {
    AtomicReference<CountWordsStreamResponse> response = new AtomicReference<>();
    try (FileChunks chunks = new FileChunks(file, CHUNK_SIZE)) {
      StreamingUpload.run(
          stub(textAsync)::countWordsStream,
          map(chunks, c -> CountWordsStreamRequest.newBuilder().setChunk(c).build()),
          response::set,
          target);
    }
    return sortedCounts(requireReport(response.get()).getCountsMap());
  }

  private static Map<String, Long> sortedCounts(Map<String, Long> counts) {
    List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
    entries.sort(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())
        .thenComparing(Map.Entry.comparingByKey()));
    Map<String, Long> out = new LinkedHashMap<>();
    for (Map.Entry<String, Long> e : entries) {
      out.put(e.getKey(), e.getValue());
    }
    return Collections.unmodifiableMap(out);
  }

  // -------------------------------------------------------------------------- model store

  /** All stored models, sorted by name. */
  public List<ModelInfo> listModels() {
    return listModels(ModelKind.MODEL_KIND_UNSPECIFIED);
  }

  /** Stored models of one kind, sorted by name. */
  public List<ModelInfo> listModels(ModelKind kind) {
    ListModelsRequest request = ListModelsRequest.newBuilder().setKind(kind).build();
    return call(() -> List.copyOf(stub(models).listModels(request).getModelsList()));
  }

  /** Describes a model. */
  public ModelInfo getModel(String name) {
    GetModelRequest request = GetModelRequest.newBuilder().setName(name).build();
    return call(() -> stub(models).getModel(request).getModel());
  }

  /** Deletes a model from the store. */
  public void deleteModel(String name) {
    DeleteModelRequest request = DeleteModelRequest.newBuilder().setName(name).build();
    call(() -> stub(models).deleteModel(request));
  }

  /** Writes a model's bytes (in its stored format) to {@code file}; returns its description. */
  public ModelInfo exportModel(String name, Path file) {
    return exportModel(name, ModelFormat.MODEL_FORMAT_UNSPECIFIED, file);
  }

  /**
   * Writes a model's bytes in {@code format} to {@code file}, replacing it only once the whole
   * model has arrived; returns the model's description.
   */
  public ModelInfo exportModel(String name, ModelFormat format, Path file) {
    ExportModelRequest request = ExportModelRequest.newBuilder().setName(name).setFormat(format).build();
    Path absolute = file.toAbsolutePath();
    Path dir = absolute.getParent();
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dir, "." + absolute.getFileName(), ".part");
      ModelInfo info = null;
      try (OutputStream out = Files.newOutputStream(tmp)) {
        Iterator<ExportModelResponse> it = stub(models).exportModel(request);
        while (it.hasNext()) {
          ExportModelResponse r = it.next();
          if (r.hasModel() && info == null) {
            info = r.getModel();
          }
          r.getChunk().writeTo(out);
        }
      } catch (StatusRuntimeException e) {
        throw StatusMapping.map(e, target);
      }
      Files.move(tmp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
      return info == null ? ModelInfo.getDefaultInstance() : info;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort: a leftover .part file is harmless
        }
      }
    }
  }

  /** Uploads a model file (format detected) under {@code name}. */
  public ModelInfo importModel(String name, ModelKind kind, Path file) {
    return importModel(ImportModelHeader.newBuilder().setName(name).setKind(kind).build(), file);
  }

  /** Uploads a model file with a full header (format, class names, feature template). */
  public ModelInfo importModel(ImportModelHeader header, Path file) {
    AtomicReference<ImportModelResponse> response = new AtomicReference<>();
    try (FileChunks chunks = new FileChunks(file, CHUNK_SIZE)) {
      StreamingUpload.run(
          stub(modelsAsync)::importModel,
          prepend(
              ImportModelRequest.newBuilder().setHeader(header).build(),
              map(chunks, c -> ImportModelRequest.newBuilder().setChunk(c).build())),
          response::set,
          target);
    }
    return requireReport(response.get()).getModel();
  }

  // ---------------------------------------------------------------------------- lifecycle

  /** Shuts the channel down and waits (up to 10 s) for calls in flight to end. */
  @Override
  public void close() {
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

  // ------------------------------------------------------------------------------ helpers

  private <S extends AbstractStub<S>> S stub(S stub) {
    return deadline == null ? stub : stub.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  private <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw StatusMapping.map(e, target);
    }
  }

  private static <T> T requireReport(T report) {
    if (report == null) {
      throw new MlBridgeException(Status.Code.INTERNAL, "the server ended the call without a result");
    }
    return report;
  }

  private static ByteString readFile(Path file) {
    try {
      return ByteString.copyFrom(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static int columns(float[][] rows) {
    int cols = rows.length == 0 ? 0 : Objects.requireNonNull(rows[0], "row 0").length;
    for (int r = 1; r < rows.length; r++) {
      if (Objects.requireNonNull(rows[r], "row " + r).length != cols) {
        throw new IllegalArgumentException("row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
      }
    }
    return cols;
  }

  private static XgboostServicePredictRequest matrixRequest(String model, float[][] rows, PredictOutput output) {
    int cols = columns(rows);
    DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(rows.length).setCols(cols);
    for (float[] row : rows) {
      for (float v : row) {
        m.addValues(v);
      }
    }
    return XgboostServicePredictRequest.newBuilder().setModelName(model).setMatrix(m).setOutput(output).build();
  }

  private static XgboostServicePredictRequest matrixRequest(
      String model, float[] rowMajor, int rows, int cols, PredictOutput output) {
    if (rows < 0 || cols < 0 || (long) rows * cols != rowMajor.length) {
      throw new IllegalArgumentException(
          "rowMajor has " + rowMajor.length + " values, expected rows × cols = " + rows + " × " + cols);
    }
    DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(rows).setCols(cols);
    for (float v : rowMajor) {
      m.addValues(v);
    }
    return XgboostServicePredictRequest.newBuilder().setModelName(model).setMatrix(m).setOutput(output).build();
  }

  private static <T> Iterator<T> prepend(T first, Iterator<T> rest) {
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

  private static <A, B> Iterator<B> map(Iterator<A> source, Function<A, B> f) {
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

  // ------------------------------------------------------------------------------ builder

  /** Builds an {@link MlBridgeClient}. */
  public static final class Builder {
    private String address;
    private boolean tls;
    private Path trustCertificates;
    private Path clientCertificateChain;
    private Path clientPrivateKey;
    private String authority;
    private String token;
    private Duration deadline;
    private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;

    private Builder() {
      String env = System.getenv(ADDRESS_ENV);
      this.address = env == null || env.isBlank() ? DEFAULT_ADDRESS : env.trim();
    }

    /** The server's {@code host:port} (or any gRPC target). */
    public Builder address(String address) {
      this.address = Objects.requireNonNull(address, "address");
      return this;
    }

    /** Uses TLS, trusting the JVM's default certificate authorities. */
    public Builder tls() {
      this.tls = true;
      return this;
    }

    /** Uses TLS, trusting the certificates of a PEM file (e.g. the server's self-signed one). */
    public Builder trustCertificates(Path pem) {
      this.trustCertificates = Objects.requireNonNull(pem, "pem");
      this.tls = true;
      return this;
    }

    /** Uses TLS and presents a client certificate (for servers that require mutual TLS). */
    public Builder clientCertificate(Path certificateChainPem, Path privateKeyPem) {
      this.clientCertificateChain = Objects.requireNonNull(certificateChainPem, "certificateChainPem");
      this.clientPrivateKey = Objects.requireNonNull(privateKeyPem, "privateKeyPem");
      this.tls = true;
      return this;
    }

    /** The TLS authority (host name) to verify, when it differs from the address's host. */
    public Builder overrideAuthority(String authority) {
      this.authority = Objects.requireNonNull(authority, "authority");
      return this;
    }

    /** Sends {@code authorization: Bearer <token>} with every call. */
    public Builder token(String token) {
      this.token = Objects.requireNonNull(token, "token");
      return this;
    }

    /** A deadline for each call (a whole training, for streaming calls); none by default. */
    public Builder deadline(Duration deadline) {
      if (deadline != null && (deadline.isNegative() || deadline.isZero())) {
        throw new IllegalArgumentException("deadline must be positive: " + deadline);
      }
      this.deadline = deadline;
      return this;
    }

    /** Largest response accepted (default 64 MiB, the server's default). */
    public Builder maxMessageBytes(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("bytes must be positive: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    public MlBridgeClient build() {
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
      ManagedChannelBuilder<?> cb = Grpc.newChannelBuilder(address, credentials).maxInboundMessageSize(maxMessageBytes);
      if (authority != null) {
        cb.overrideAuthority(authority);
      }
      return new MlBridgeClient(cb.build(), address, token, deadline);
    }
  }
}
