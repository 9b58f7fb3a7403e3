package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlbridge.v1.CrfTrainReport;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The book's NER model on the book's own files: ner.csv with the book preset, then the book's
 * ner_predict.csv. Skipped without them; {@link CrfTest} covers the same calls on the project's
 * data.
 */
@BookData
@ExtendWith(MlBridgeServerExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BookCrfTest {
  private static final String MODEL = "ner-book-data";

  private MlBridgeClient client;
  private CrfTrainReport report;

  @BeforeAll
  void train(ServerProcess server) {
    client = server.client();
    report = client.crf().train(MODEL, TestPaths.book("ner.csv"), CrfTrainOptions.book(), null);
  }

  @AfterAll
  void close() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void trainingReportsTheBooksAccuracy() {
    System.out.println("the book's ner.csv, book preset: " + report.getAccuracyLine());
    // The book's ner.csv: 457 sentences, 9,999 tokens; 20% of the sentences (91) held out.
    assertEquals(457, report.getTrainSequences() + report.getTestSequences(), report.toString());
    assertEquals(91, report.getTestSequences(), report.toString());
    assertEquals(9_999, report.getTrainTokens() + report.getTestTokens(), report.toString());
    // Measured (seed 0): book (non-O) accuracy 0.556 (183/329), token accuracy 0.867, 100 AROW
    // iterations.
    assertTrue(
        report.getMetrics().getBookAccuracy() > 0.45,
        "book accuracy " + report.getMetrics().getBookAccuracy());
    assertTrue(
        report.getMetrics().getTokenAccuracy() > 0.83,
        "token accuracy " + report.getMetrics().getTokenAccuracy());
    assertTrue(
        report.getAccuracyLine().matches("accuracy=0\\.\\d{4} \\(\\d+/\\d+ non-O tokens.*"),
        report.getAccuracyLine());
  }

  @Test
  void predictTagsTheBooksSentence() {
    // "Thousands of demonstrators have marched through London to protest": 9 rows, and the
    // book's model tags London (row 6) B-geo, every other token O (measured).
    List<String> labels = client.crf().predict(MODEL, TestPaths.book("ner_predict.csv"));
    assertEquals(List.of("O", "O", "O", "O", "O", "O", "B-geo", "O", "O"), labels);
  }
}
