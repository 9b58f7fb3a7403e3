import dev.mlbridge.client.MlBridgeClient;
import dev.mlbridge.client.MlBridgeException;
import dev.mlbridge.client.XgboostTrainOptions;
import java.nio.file.Path;

/**
 * The book's Java example (chapter 8), with the JNI library replaced by the mlbridge server: {@link
 * #fit()} trains the iris classifier on {@code data/iris.csv} and stores it as {@code xgb.model};
 * {@link #predict()} classifies the first row of {@code data/predict.csv}. Both paths are relative
 * to the working directory, as in the book; the server is at {@code $MLBRIDGE_ADDRESS} (default
 * {@code localhost:50051}).
 */
public class IrisClassificationXgboost {
  static final String MODEL = "xgb.model";

  /** Trains the book's booster, printing each boosting round's evaluation line. */
  public static void fit() {
    try (MlBridgeClient client = MlBridgeClient.builder().build()) {
      client
          .xgboost()
          .train(
              MODEL,
              Path.of("data/iris.csv"),
              XgboostTrainOptions.iris(),
              progress -> {
                if (!progress.getEvalLog().isEmpty()) {
                  System.out.println(progress.getEvalLog());
                }
              });
    }
  }

  /** The predicted species of the first row of {@code data/predict.csv}. */
  public static String predict() {
    try (MlBridgeClient client = MlBridgeClient.builder().build()) {
      return client.xgboost().predictCsv(MODEL, Path.of("data/predict.csv")).className(0);
    }
  }

  public static void main(String[] args) {
    try {
      IrisClassificationXgboost.fit();
      String predictions = IrisClassificationXgboost.predict();
      System.out.println(predictions);
    } catch (MlBridgeException e) {
      System.err.println("IrisClassificationXgboost: " + e.getStatusCode() + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
