package dev.mlbridge.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A NER CSV in the book's format (no quoted fields) read as the server's {@code book} preset reads
 * it: sentences of consecutive rows with the same {@code sentence_idx}, each token an item with the
 * lemma (weight 1) and the next lemma (weight 0.5), unprefixed; with the {@code tag} column as
 * labels when the file has one.
 */
final class NerData {
  private static final double[] BOOK_WEIGHTS = {1.0, 0.5};

  private NerData() {}

  /** The sentences of {@code csv}, labelled when it has a {@code tag} column. */
  static List<ItemSequence> bookSequences(Path csv) {
    List<String> lines;
    try {
      lines = Files.readAllLines(csv);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> header = List.of(lines.get(0).split(",", -1));
    int lemma = header.indexOf("lemma");
    int nextLemma = header.indexOf("next-lemma");
    int sentence = header.indexOf("sentence_idx");
    int tag = header.indexOf("tag");
    List<ItemSequence> out = new ArrayList<>();
    ItemSequence.Builder items = null;
    List<String> labels = new ArrayList<>();
    String current = null;
    for (String line : lines.subList(1, lines.size())) {
      if (line.isEmpty()) {
        continue;
      }
      String[] row = line.split(",", -1);
      if (!row[sentence].equals(current)) {
        if (items != null) {
          out.add(finish(items, labels, tag >= 0));
        }
        items = ItemSequence.builder();
        labels = new ArrayList<>();
        current = row[sentence];
      }
      items.item(List.of(row[lemma], row[nextLemma]), BOOK_WEIGHTS);
      if (tag >= 0) {
        labels.add(row[tag]);
      }
    }
    if (items != null) {
      out.add(finish(items, labels, tag >= 0));
    }
    return out;
  }

  private static ItemSequence finish(
      ItemSequence.Builder items, List<String> labels, boolean labelled) {
    return labelled ? items.labels(labels).build() : items.build();
  }
}
