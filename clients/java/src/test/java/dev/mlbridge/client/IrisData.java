package dev.mlbridge.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An iris.csv in the book's format, parsed: four features, and the species as a class index (in
 * order of first appearance: setosa, versicolor, virginica).
 */
final class IrisData {
  final List<String> featureNames;
  final List<String> classNames = new ArrayList<>();
  final float[][] features;
  final float[] labels;

  private IrisData(List<String> featureNames, float[][] features, float[] labels) {
    this.featureNames = featureNames;
    this.features = features;
    this.labels = labels;
  }

  /** The project's own iris.csv (Fisher's 150 rows; {@link TestPaths#data()}). */
  static IrisData load() {
    return load(TestPaths.data("iris.csv"));
  }

  static IrisData load(Path csv) {
    try {
      List<String> lines = Files.readAllLines(csv);
      String[] header = lines.get(0).split(",");
      List<String> names = List.of(Arrays.copyOf(header, header.length - 1));
      List<float[]> rows = new ArrayList<>();
      List<String> species = new ArrayList<>();
      for (String line : lines.subList(1, lines.size())) {
        if (line.isBlank()) {
          continue;
        }
        String[] f = line.split(",");
        float[] row = new float[f.length - 1];
        for (int i = 0; i < row.length; i++) {
          row[i] = Float.parseFloat(f[i]);
        }
        rows.add(row);
        species.add(f[f.length - 1]);
      }
      IrisData d = new IrisData(names, rows.toArray(new float[0][]), new float[rows.size()]);
      for (int i = 0; i < species.size(); i++) {
        int k = d.classNames.indexOf(species.get(i));
        if (k < 0) {
          d.classNames.add(species.get(i));
          k = d.classNames.size() - 1;
        }
        d.labels[i] = k;
      }
      return d;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
