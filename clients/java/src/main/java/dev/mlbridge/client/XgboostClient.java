package dev.mlbridge.client;

import dev.mlbridge.v1.DenseMatrix;
import dev.mlbridge.v1.PredictOutput;
import dev.mlbridge.v1.TrainProgress;
import dev.mlbridge.v1.XgboostServiceGrpc;
import dev.mlbridge.v1.XgboostServicePredictRequest;
import dev.mlbridge.v1.XgboostServiceTrainRequest;
import dev.mlbridge.v1.XgboostServiceTrainResponse;
import dev.mlbridge.v1.XgboostTrainReport;
import dev.mlbridge.v1.XgboostTrainRows;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * XGBoost boosters (XgboostService): {@link MlBridgeClient#xgboost()}. Trains from a CSV file or a
 * feature matrix, and predicts rows.
 *
 * <pre>{@code
 * client.xgboost().train("xgb.model", Path.of("data/iris.csv"), XgboostTrainOptions.iris(),
 *     p -> System.out.println(p.getEvalLog()));
 * String species = client.xgboost().predict("xgb.model", new float[][] {{5.1f, 3.5f, 1.4f, 0.2f}}).className(0);
 * }</pre>
 */
public final class XgboostClient {
  private final Rpc rpc;
  private final XgboostServiceGrpc.XgboostServiceBlockingStub blocking;
  private final XgboostServiceGrpc.XgboostServiceStub async;

  XgboostClient(Rpc rpc) {
    this.rpc = rpc;
    this.blocking = XgboostServiceGrpc.newBlockingStub(rpc.channel);
    this.async = XgboostServiceGrpc.newStub(rpc.channel);
  }

  /**
   * Trains a booster on a CSV file with a header row (e.g. the book's iris.csv), uploaded in 1 MiB
   * chunks, and stores it as {@code model}. Interrupting the calling thread cancels the training
   * ({@link CancelledException}); the server then stores nothing.
   *
   * @param options preset, parameters, rounds and splits; null for the server's defaults
   * @param onProgress receives each progress event (one per boosting round, with its eval log), on
   *     a gRPC thread; may be null. What it throws cancels the training and is rethrown.
   * @return the final report
   * @throws java.io.UncheckedIOException when the file cannot be read (before any call)
   */
  public XgboostTrainReport train(
      String model, Path csv, XgboostTrainOptions options, Consumer<TrainProgress> onProgress) {
    try (FileChunks chunks = new FileChunks(csv, MlBridgeClient.CHUNK_SIZE)) {
      Iterator<XgboostServiceTrainRequest> data =
          Rpc.map(chunks, c -> XgboostServiceTrainRequest.newBuilder().setCsvChunk(c).build());
      return train(model, options, data, onProgress);
    }
  }

  /**
   * Trains a booster on a feature matrix (one array per row) and one label per row, sent in
   * messages of about 1 MiB.
   *
   * @see #train(String, Path, XgboostTrainOptions, Consumer)
   */
  public XgboostTrainReport train(
      String model,
      float[][] features,
      float[] labels,
      XgboostTrainOptions options,
      Consumer<TrainProgress> onProgress) {
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(labels, "labels");
    if (labels.length != features.length) {
      throw new IllegalArgumentException(
          features.length + " rows but " + labels.length + " labels");
    }
    return train(model, options, rowsMessages(features, labels, columns(features)), onProgress);
  }

  private XgboostTrainReport train(
      String model,
      XgboostTrainOptions options,
      Iterator<XgboostServiceTrainRequest> data,
      Consumer<TrainProgress> onProgress) {
    XgboostTrainOptions opts = options == null ? XgboostTrainOptions.defaults() : options;
    return Training.run(
        rpc,
        rpc.stub(async)::train,
        XgboostServiceTrainRequest.newBuilder().setHeader(opts.toHeader(model)).build(),
        data,
        (XgboostServiceTrainResponse r) -> r.hasProgress() ? r.getProgress() : null,
        (XgboostServiceTrainResponse r) -> r.hasReport() ? r.getReport() : null,
        onProgress);
  }

  /**
   * The rows in messages of about 1 MiB, made as they are sent; one (empty) when there are none.
   */
  private static Iterator<XgboostServiceTrainRequest> rowsMessages(
      float[][] features, float[] labels, int cols) {
    int rowsPerMessage = Math.max(1, MlBridgeClient.CHUNK_SIZE / (4 * (cols + 1)));
    return new Iterator<XgboostServiceTrainRequest>() {
      private int start;
      private boolean sentOne;

      @Override
      public boolean hasNext() {
        return start < features.length || !sentOne;
      }

      @Override
      public XgboostServiceTrainRequest next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int end = Math.min(features.length, start + rowsPerMessage);
        DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(end - start).setCols(cols);
        XgboostTrainRows.Builder rows = XgboostTrainRows.newBuilder();
        for (int r = start; r < end; r++) {
          for (float v : features[r]) {
            m.addValues(v);
          }
          rows.addLabels(labels[r]);
        }
        start = end;
        sentOne = true;
        return XgboostServiceTrainRequest.newBuilder().setRows(rows.setFeatures(m)).build();
      }
    };
  }

  /** Predicts rows (one array per row) with the objective's natural output. */
  public Prediction predict(String model, float[][] rows) {
    return predict(model, rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /**
   * Predicts rows (one array per row); {@code output} chooses classes, probabilities or margins.
   */
  public Prediction predict(String model, float[][] rows, PredictOutput output) {
    return predict(matrixRequest(model, rows, output));
  }

  /** Predicts {@code rows × cols} values given row-major. */
  public Prediction predict(String model, float[] rowMajor, int rows, int cols) {
    return predict(model, rowMajor, rows, cols, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /** Predicts {@code rows × cols} values given row-major, with the chosen output. */
  public Prediction predict(
      String model, float[] rowMajor, int rows, int cols, PredictOutput output) {
    return predict(matrixRequest(model, rowMajor, rows, cols, output));
  }

  /** Predicts the rows of a CSV file with a header row holding the model's feature columns. */
  public Prediction predictCsv(String model, Path csv) {
    return predictCsv(model, csv, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
  }

  /** Predicts the rows of a CSV file, with the chosen output. */
  public Prediction predictCsv(String model, Path csv, PredictOutput output) {
    return predict(
        XgboostServicePredictRequest.newBuilder()
            .setModelName(model)
            .setCsv(Rpc.readFile(csv))
            .setOutput(output)
            .build());
  }

  /** Predicts with a full request. */
  public Prediction predict(XgboostServicePredictRequest request) {
    return rpc.call(() -> Prediction.of(rpc.stub(blocking).predict(request)));
  }

  /** {@link #predict(String, float[][])} without blocking. */
  public CompletableFuture<Prediction> predictAsync(String model, float[][] rows) {
    return predictAsync(matrixRequest(model, rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED));
  }

  /** {@link #predict(String, float[], int, int)} without blocking. */
  public CompletableFuture<Prediction> predictAsync(
      String model, float[] rowMajor, int rows, int cols) {
    return predictAsync(
        matrixRequest(model, rowMajor, rows, cols, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED));
  }

  /**
   * Predicts with a full request, without blocking; fails with a {@link MlBridgeException}.
   * Cancelling the future cancels the call.
   */
  public CompletableFuture<Prediction> predictAsync(XgboostServicePredictRequest request) {
    return rpc.callAsync(rpc.stub(async)::predict, request, Prediction::of);
  }

  private static int columns(float[][] rows) {
    int cols = rows.length == 0 ? 0 : Objects.requireNonNull(rows[0], "row 0").length;
    for (int r = 1; r < rows.length; r++) {
      if (Objects.requireNonNull(rows[r], "row " + r).length != cols) {
        throw new IllegalArgumentException(
            "row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
      }
    }
    return cols;
  }

  private static XgboostServicePredictRequest matrixRequest(
      String model, float[][] rows, PredictOutput output) {
    int cols = columns(rows);
    DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(rows.length).setCols(cols);
    for (float[] row : rows) {
      for (float v : row) {
        m.addValues(v);
      }
    }
    return XgboostServicePredictRequest.newBuilder()
        .setModelName(model)
        .setMatrix(m)
        .setOutput(output)
        .build();
  }

  private static XgboostServicePredictRequest matrixRequest(
      String model, float[] rowMajor, int rows, int cols, PredictOutput output) {
    if (rows < 0 || cols < 0 || (long) rows * cols != rowMajor.length) {
      throw new IllegalArgumentException(
          "rowMajor has "
              + rowMajor.length
              + " values, expected rows × cols = "
              + rows
              + " × "
              + cols);
    }
    DenseMatrix.Builder m = DenseMatrix.newBuilder().setRows(rows).setCols(cols);
    for (float v : rowMajor) {
      m.addValues(v);
    }
    return XgboostServicePredictRequest.newBuilder()
        .setModelName(model)
        .setMatrix(m)
        .setOutput(output)
        .build();
  }
}
