package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlbridge.v1.CrfSequence;
import dev.mlbridge.v1.CrfTrainReport;
import dev.mlbridge.v1.ModelInfo;
import dev.mlbridge.v1.ModelKind;
import dev.mlbridge.v1.TrainProgress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The book's NER model: trained on ner.csv with the book preset, then used to tag. */
@ExtendWith(MlBridgeServerExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrfTest {
  private static final String MODEL = "ner-book";

  private MlBridgeClient client;
  private CrfTrainReport report;
  private final List<TrainProgress> progress = new CopyOnWriteArrayList<>();

  @BeforeAll
  void train(ServerProcess server) {
    client = server.client();
    report = client.trainCrf(MODEL, TestPaths.book("ner.csv"), CrfTrainOptions.book(), progress::add);
  }

  @AfterAll
  void close() {
    client.close();
  }

  @Test
  void trainingReportsTheBooksAccuracy() {
    assertEquals(MODEL, report.getModel().getName());
    assertEquals(ModelKind.MODEL_KIND_CRF, report.getModel().getKind());
    assertTrue(report.getAccuracyLine().startsWith("accuracy="), report.getAccuracyLine());
    assertTrue(report.getMetrics().getBookAccuracy() > 0.3, "book accuracy " + report.getMetrics().getBookAccuracy());
    assertTrue(report.getTrainSequences() > 0 && report.getTestSequences() > 0, report.toString());
    assertTrue(report.getModel().getLabelsList().contains("O"), report.getModel().getLabelsList().toString());
    assertFalse(progress.isEmpty(), "progress events");
    assertTrue(progress.stream().anyMatch(p -> p.getStage().equals("training")), "a training-stage event: " + progress);
  }

  @Test
  void predictTagsEachRowOfTheBooksPredictFile() {
    List<String> labels = client.predictCrf(MODEL, TestPaths.book("ner_predict.csv"));
    assertEquals(9, labels.size(), labels.toString());
    assertTrue(report.getModel().getLabelsList().containsAll(labels), labels.toString());
  }

  @Test
  void tagStructuredSequences() {
    // The book preset's attributes: the lemma (weight 1) and the next lemma (weight 0.5), unprefixed.
    CrfSequence sentence = MlBridgeClient.sequenceOf(List.of(
        List.of("thousand", "of"), List.of("of", "demonstr"), List.of("demonstr", "have"), List.of("london", "to")));
    List<List<String>> tagged = client.tag(MODEL, List.of(sentence, sentence));
    assertEquals(2, tagged.size());
    assertEquals(4, tagged.get(0).size());
    assertEquals(tagged.get(0), tagged.get(1));
  }

  @Test
  void modelStoreRoundTrip(@TempDir Path dir) {
    assertTrue(client.listModels().stream().anyMatch(m -> m.getName().equals(MODEL)));
    assertTrue(client.listModels(ModelKind.MODEL_KIND_XGBOOST).stream().noneMatch(m -> m.getName().equals(MODEL)));
    ModelInfo info = client.getModel(MODEL);
    assertEquals("crfsuite", info.getFormat());

    Path file = dir.resolve("ner.crfsuite");
    ModelInfo exported = client.exportModel(MODEL, file);
    assertEquals(MODEL, exported.getName());
    assertEquals(info.getSizeBytes(), file.toFile().length());

    ModelInfo imported = client.importModel("ner-copy", ModelKind.MODEL_KIND_CRF, file);
    assertEquals("ner-copy", imported.getName());
    assertEquals(info.getSha256(), imported.getSha256());
    assertEquals(client.predictCrf(MODEL, TestPaths.book("ner_predict.csv")),
        client.predictCrf("ner-copy", TestPaths.book("ner_predict.csv")));

    client.deleteModel("ner-copy");
    ModelNotFoundException e = assertThrows(ModelNotFoundException.class, () -> client.getModel("ner-copy"));
    assertTrue(e.getMessage().contains("ner-copy"), e.getMessage());
    assertFalse(Files.exists(dir.resolve(".ner.crfsuite.part")));
  }
}
