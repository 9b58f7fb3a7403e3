package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlbridge.v1.PredictOutput;
import inference.GrpcPredictV2.ModelInferRequest;
import inference.GrpcPredictV2.ModelMetadataResponse;
import inference.GrpcPredictV2.ModelMetadataResponse.TensorMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link InferenceClient} (Open Inference Protocol, KServe V2) against the real server: an iris
 * XGBoost model and the book's NER CRF model, both trained through {@link MlBridgeClient}.
 */
@ExtendWith(MlBridgeServerExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InferenceTest {
  private static final String IRIS = "v2-iris";
  private static final String NER = "v2-ner";

  private final IrisData iris = IrisData.load();
  private MlBridgeClient client;
  private InferenceClient inference;

  @BeforeAll
  void train(ServerProcess server) {
    client = server.client();
    inference = InferenceClient.builder().address(server.address()).build();
    client
        .xgboost()
        .train(
            IRIS,
            iris.features,
            iris.labels,
            XgboostTrainOptions.builder()
                .preset("iris")
                .featureNames(iris.featureNames)
                .classNames(iris.classNames)
                .seed(7)
                .build(),
            null);
    client.crf().train(NER, TestPaths.data("ner.csv"), CrfTrainOptions.book(), null);
  }

  @AfterAll
  void close() {
    inference.close();
    client.close();
  }

  @Test
  void serverAndModelReadiness() {
    assertTrue(inference.live());
    assertTrue(inference.ready());
    assertEquals("mlbridge", inference.serverMetadata().getName());
    assertTrue(inference.modelReady(IRIS));
    assertTrue(inference.modelReady(IRIS, "1"));
    assertFalse(inference.modelReady(IRIS, "2"));
    assertFalse(inference.modelReady("no-such-model"));
  }

  @Test
  void xgboostMetadata() {
    ModelMetadataResponse m = inference.modelMetadata(IRIS);
    assertEquals(IRIS, m.getName());
    assertEquals(List.of("1"), m.getVersionsList());
    assertEquals("xgboost_ubj", m.getPlatform());
    assertEquals(1, m.getInputsCount());
    TensorMetadata input = m.getInputs(0);
    assertEquals("input", input.getName());
    assertEquals("FP32", input.getDatatype());
    assertEquals(List.of(-1L, 4L), input.getShapeList());
    List<String> outputs = new ArrayList<>();
    m.getOutputsList().forEach(o -> outputs.add(o.getName() + ":" + o.getDatatype()));
    assertEquals(List.of("predict:INT64", "predict_proba:FP32"), outputs);
  }

  @Test
  void xgboostInferenceEqualsXgboostPredict() {
    float[][] rows = Arrays.copyOfRange(iris.features, 0, 150);
    Prediction expected =
        client.xgboost().predict(IRIS, rows, PredictOutput.PREDICT_OUTPUT_PROBABILITIES);
    InferResult r = inference.infer(IRIS, InferInput.fp32("input", rows));
    assertEquals(IRIS, r.modelName());
    assertEquals("1", r.modelVersion());
    InferOutput proba = r.output("predict_proba");
    assertEquals("FP32", proba.datatype());
    assertArrayEquals(new long[] {150, 3}, proba.shape());
    assertEquals(150 * 3, expected.values().length);
    assertArrayEquals(expected.values(), proba.asFloats());
    InferOutput predict = r.output("predict");
    assertEquals("INT64", predict.datatype());
    assertArrayEquals(new long[] {150}, predict.shape());
    long[] classes = predict.asLongs();
    for (int i = 0; i < 150; i++) {
      float[] p = expected.row(i);
      int best = 0;
      for (int k = 1; k < p.length; k++) {
        best = p[k] > p[best] ? k : best;
      }
      assertEquals(best, classes[i], "row " + i);
    }
    assertTrue(
        predict.parameters().get("class_names").getStringParam().contains("setosa"),
        predict.parameters().toString());

    // The same rows in FP64: typed contents both ways; one requested output.
    double[] wide = new double[150 * 4];
    for (int i = 0; i < wide.length; i++) {
      wide[i] = rows[i / 4][i % 4];
    }
    InferResult typed =
        inference.infer(
            IRIS, List.of(InferInput.fp64("input", wide, 150, 4)), List.of("predict_proba"));
    assertEquals(1, typed.outputs().size());
    assertEquals(0, typed.response().getRawOutputContentsCount());
    assertArrayEquals(expected.values(), typed.output("predict_proba").asFloats());
  }

  @Test
  void fp32GoesRawOtherTypesTyped() {
    ModelInferRequest raw =
        InferenceClient.request(
            "m", null, List.of(InferInput.fp32("x", new float[] {1.5f}, 1)), List.of());
    assertEquals(1, raw.getRawInputContentsCount());
    assertArrayEquals(
        new byte[] {0, 0, (byte) 0xc0, 0x3f}, raw.getRawInputContents(0).toByteArray());
    assertFalse(raw.getInputs(0).hasContents());
    ModelInferRequest typed =
        InferenceClient.request(
            "m", "3", List.of(InferInput.int64("x", new long[] {7}, 1)), List.of("y"));
    assertEquals(0, typed.getRawInputContentsCount());
    assertEquals(List.of(7L), typed.getInputs(0).getContents().getInt64ContentsList());
    assertEquals("y", typed.getOutputs(0).getName());
    assertThrows(
        IllegalArgumentException.class,
        () -> InferInput.fp32("x", new float[] {1, 2, 3}, 2, 2),
        "element count is checked locally");
  }

  @Test
  void crfTokensAndAttributesGiveTheLabelsOfCrfPredict() throws IOException {
    List<String> expected = client.crf().predict(NER, TestPaths.data("ner_predict.csv"));
    List<String> lines = Files.readAllLines(TestPaths.data("ner_predict.csv"));
    List<String> header = Arrays.asList(lines.get(0).split(",", -1));
    int lemma = header.indexOf("lemma");
    int nextLemma = header.indexOf("next-lemma");
    List<String> tokens = new ArrayList<>();
    List<String> attributes = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank()) {
        continue;
      }
      String[] row = line.split(",", -1);
      tokens.add(row[lemma]);
      tokens.add(row[nextLemma]);
      attributes.add(row[lemma] + "\t" + row[nextLemma] + ":0.5");
    }
    int n = attributes.size();
    assertEquals(expected.size(), n);

    ModelMetadataResponse m = inference.modelMetadata(NER);
    assertEquals("crfsuite", m.getPlatform());
    List<String> inputs = new ArrayList<>();
    m.getInputsList().forEach(t -> inputs.add(t.getName()));
    assertTrue(inputs.containsAll(List.of("attributes", "tokens")), inputs.toString());

    InferResult byTokens =
        inference.infer(NER, InferInput.strings("tokens", tokens.toArray(new String[0]), n, 2));
    InferOutput labels = byTokens.output("labels");
    assertEquals("BYTES", labels.datatype());
    assertArrayEquals(new long[] {n}, labels.shape());
    assertEquals(expected, List.of(labels.asStrings()));

    InferResult byAttributes =
        inference.infer(NER, InferInput.strings("attributes", attributes.toArray(new String[0])));
    assertEquals(expected, List.of(byAttributes.output("labels").asStrings()));
  }

  @Test
  void errors() {
    ModelNotFoundException missing =
        assertThrows(
            ModelNotFoundException.class,
            () -> inference.infer("no-such-model", InferInput.fp32("input", new float[4], 1, 4)));
    assertTrue(missing.getMessage().contains("no-such-model"), missing.getMessage());
    assertThrows(ModelNotFoundException.class, () -> inference.modelMetadata("no-such-model"));

    InvalidInputException badShape =
        assertThrows(
            InvalidInputException.class,
            () -> inference.infer(IRIS, InferInput.fp32("input", new float[3], 1, 3)));
    assertTrue(badShape.getMessage().contains("inputs[0].shape[1]"), badShape.getMessage());

    InvalidInputException unknownOutput =
        assertThrows(
            InvalidInputException.class,
            () ->
                inference.infer(
                    IRIS, List.of(InferInput.fp32("input", new float[4], 1, 4)), List.of("nope")));
    assertTrue(unknownOutput.getMessage().contains("outputs[0]"), unknownOutput.getMessage());
  }
}
