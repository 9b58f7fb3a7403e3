package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlbridge.v1.ModelKind;
import dev.mlbridge.v1.PredictOutput;
import dev.mlbridge.v1.TrainProgress;
import dev.mlbridge.v1.XgboostTrainReport;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * XGBoost on the project's own iris data (Fisher's 150 rows, the book's columns): the book's {@code
 * iris} preset, trained from a matrix and from the CSV, then predictions.
 */
@ExtendWith(MlBridgeServerExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class XgboostTest {
  private static final float[] SETOSA = {5.1f, 3.5f, 1.4f, 0.2f};
  private static final float[] VIRGINICA = {7.7f, 3.0f, 6.1f, 2.3f};

  private MlBridgeClient client;
  private final IrisData iris = IrisData.load();
  private final List<TrainProgress> progress = new CopyOnWriteArrayList<>();
  private XgboostTrainReport matrixReport;

  @BeforeAll
  void train(ServerProcess server) {
    client = server.client();
    matrixReport =
        client
            .xgboost()
            .train(
                "iris-matrix",
                iris.features,
                iris.labels,
                XgboostTrainOptions.builder()
                    .preset("iris")
                    .featureNames(iris.featureNames)
                    .classNames(iris.classNames)
                    .seed(7)
                    .build(),
                progress::add);
  }

  @Test
  void exportWritesTheFormatTheFileNameAsksFor(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws java.io.IOException {
    client.models().export("iris-matrix", dir.resolve("m.json"));
    client.models().export("iris-matrix", dir.resolve("m.ubj"));
    client.models().export("iris-matrix", dir.resolve("m.model"));
    assertTrue(
        new String(
                java.nio.file.Files.readAllBytes(dir.resolve("m.json")),
                java.nio.charset.StandardCharsets.ISO_8859_1)
            .startsWith("{\""));
    assertTrue(
        new String(
                java.nio.file.Files.readAllBytes(dir.resolve("m.ubj")),
                java.nio.charset.StandardCharsets.ISO_8859_1)
            .startsWith("{L"));
    assertTrue(
        new String(
                java.nio.file.Files.readAllBytes(dir.resolve("m.model")),
                java.nio.charset.StandardCharsets.ISO_8859_1)
            .startsWith("{L"));
  }

  @AfterAll
  void close() {
    client.close();
  }

  @Test
  void matrixTrainingReportsEachRound() {
    assertEquals("iris-matrix", matrixReport.getModel().getName());
    assertEquals(ModelKind.MODEL_KIND_XGBOOST, matrixReport.getModel().getKind());
    assertEquals(2, matrixReport.getRounds());
    assertEquals(
        150,
        matrixReport.getTrainRows()
            + matrixReport.getTestRows()
            + matrixReport.getValidationRows());
    assertEquals(List.of("setosa", "versicolor", "virginica"), iris.classNames);
    assertEquals(iris.classNames, matrixReport.getModel().getLabelsList());
    // Measured on build/test-data/iris.csv with seed 7: 90/30/30 rows, validation accuracy 0.933
    // (28/30), test-merror 0.033.
    assertEquals(30, matrixReport.getValidationRows());
    assertTrue(
        matrixReport.getValidationAccuracy() >= 0.85,
        "validation accuracy " + matrixReport.getValidationAccuracy());
    assertTrue(
        matrixReport.getMetricsOrThrow("test-merror") <= 0.15,
        matrixReport.getMetricsMap().toString());
    long rounds = progress.stream().filter(p -> p.getEvalLog().contains("merror")).count();
    assertEquals(2, rounds, "one eval line per round: " + progress);
  }

  @Test
  void csvTrainingWithTheBookPreset() {
    List<String> evalLines = new CopyOnWriteArrayList<>();
    XgboostTrainReport report =
        client
            .xgboost()
            .train(
                "iris-csv",
                TestPaths.data("iris.csv"),
                XgboostTrainOptions.iris(),
                p -> {
                  if (!p.getEvalLog().isEmpty()) {
                    evalLines.add(p.getEvalLog());
                  }
                });
    assertEquals(2, report.getRounds());
    assertTrue(
        report.getMetricsMap().containsKey("test-merror"), report.getMetricsMap().toString());
    // Measured on build/test-data/iris.csv (and on the book's copy alike): train-merror 0.011,
    // test-merror 0.100 (3 of 30 rows), validation accuracy 0.90.
    assertTrue(report.getMetricsOrThrow("train-merror") <= 0.05, report.getMetricsMap().toString());
    assertTrue(report.getMetricsOrThrow("test-merror") <= 0.2, report.getMetricsMap().toString());
    assertTrue(
        report.getValidationAccuracy() >= 0.8,
        "validation accuracy " + report.getValidationAccuracy());
    assertEquals(List.of("setosa", "versicolor", "virginica"), report.getModel().getLabelsList());
    assertEquals(2, evalLines.size(), evalLines.toString());
    assertTrue(
        evalLines.get(0).contains("train-merror") && evalLines.get(0).contains("test-merror"),
        evalLines.get(0));
    assertEquals(
        "setosa",
        client.xgboost().predictCsv("iris-csv", TestPaths.data("predict.csv")).className(0));
  }

  @Test
  void predictRows() {
    Prediction p = client.xgboost().predict("iris-matrix", new float[][] {SETOSA, VIRGINICA});
    assertEquals(2, p.rows());
    assertEquals(1, p.cols());
    assertEquals(List.of("setosa", "virginica"), p.classNames());
    assertEquals(0f, p.value(0));
    assertEquals(2f, p.value(1));
  }

  @Test
  void predictRowMajor() {
    float[] values = new float[8];
    System.arraycopy(VIRGINICA, 0, values, 0, 4);
    System.arraycopy(SETOSA, 0, values, 4, 4);
    Prediction p = client.xgboost().predict("iris-matrix", values, 2, 4);
    assertEquals(List.of("virginica", "setosa"), p.classNames());
  }

  @Test
  void predictProbabilities() {
    Prediction p =
        client
            .xgboost()
            .predict(
                "iris-matrix", new float[][] {SETOSA}, PredictOutput.PREDICT_OUTPUT_PROBABILITIES);
    assertEquals(1, p.rows());
    assertEquals(3, p.cols());
    float sum = 0;
    for (float v : p.row(0)) {
      sum += v;
    }
    assertEquals(1f, sum, 1e-4f);
    assertTrue(p.value(0, 0) > 0.5f, "P(setosa) = " + p.value(0, 0));
  }

  @Test
  void predictCsvWithMatrixModel() {
    Prediction p = client.xgboost().predictCsv("iris-matrix", TestPaths.data("predict.csv"));
    assertEquals(1, p.rows());
    assertEquals("setosa", p.className(0));
  }

  @Test
  void predictAsync() throws Exception {
    Prediction a =
        client
            .xgboost()
            .predictAsync("iris-matrix", new float[][] {SETOSA})
            .get(30, TimeUnit.SECONDS);
    Prediction b =
        client.xgboost().predictAsync("iris-matrix", VIRGINICA, 1, 4).get(30, TimeUnit.SECONDS);
    assertEquals("setosa", a.className(0));
    assertEquals("virginica", b.className(0));
  }

  @Test
  void raggedRowsAreRejectedLocally() {
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> client.xgboost().predict("iris-matrix", new float[][] {SETOSA, {1f, 2f}}));
    assertTrue(e.getMessage().contains("row 1"), e.getMessage());
    assertFalse(client.models().list(ModelKind.MODEL_KIND_XGBOOST).isEmpty());
  }
}
