package dev.mlbridge.client;

import dev.mlbridge.v1.XgboostServicePredictResponse;
import java.util.Arrays;
import java.util.List;

/**
 * The result of an XGBoost prediction: {@code rows × cols} values, row-major (one value per row for
 * class indices and regressions; one per class for probabilities and margins), and for classifiers
 * the predicted class name of each row.
 */
public final class Prediction {
  private final int rows;
  private final int cols;
  private final float[] values;
  private final List<String> classNames;

  Prediction(int rows, int cols, float[] values, List<String> classNames) {
    this.rows = rows;
    this.cols = cols;
    this.values = values;
    this.classNames = List.copyOf(classNames);
  }

  static Prediction of(XgboostServicePredictResponse response) {
    int n = response.getValuesCount();
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = response.getValues(i);
    }
    return new Prediction(
        response.getRows(), response.getCols(), values, response.getClassNamesList());
  }

  public int rows() {
    return rows;
  }

  public int cols() {
    return cols;
  }

  /** The value at {@code row}, {@code col}. */
  public float value(int row, int col) {
    if (row < 0 || row >= rows || col < 0 || col >= cols) {
      throw new IndexOutOfBoundsException(
          "(" + row + ", " + col + ") outside " + rows + "×" + cols);
    }
    return values[row * cols + col];
  }

  /** The first value of {@code row}: the class index or regression value. */
  public float value(int row) {
    return value(row, 0);
  }

  /** The values of one row. */
  public float[] row(int row) {
    if (row < 0 || row >= rows) {
      throw new IndexOutOfBoundsException("row " + row + " outside " + rows + " rows");
    }
    return Arrays.copyOfRange(values, row * cols, (row + 1) * cols);
  }

  /** All values, row-major (a copy). */
  public float[] values() {
    return values.clone();
  }

  /**
   * The predicted class name of each row (empty unless the model is a classifier with class names).
   */
  public List<String> classNames() {
    return classNames;
  }

  /** The predicted class name of {@code row}. */
  public String className(int row) {
    if (classNames.isEmpty()) {
      throw new IllegalStateException(
          "the model returned no class names (not a classifier with class names)");
    }
    return classNames.get(row);
  }

  @Override
  public String toString() {
    return "Prediction{rows=" + rows + ", cols=" + cols + ", classNames=" + classNames + "}";
  }
}
