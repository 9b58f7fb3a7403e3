package dev.mlbridge.client;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository, the server and the book's data are. */
final class TestPaths {
  private TestPaths() {}

  /** The monorepo root: {@code -Dmlbridge.repo} (set by the pom), else two levels above the cwd. */
  static Path repo() {
    String prop = System.getProperty("mlbridge.repo");
    Path p = prop != null && !prop.isBlank() ? Path.of(prop) : Path.of("..", "..");
    return p.toAbsolutePath().normalize();
  }

  /** The shared folder holding {@code data/}: {@code $MLBRIDGE_SHARED}, else {@code <repo>/../shared}. */
  static Path shared() {
    String env = System.getenv("MLBRIDGE_SHARED");
    if (env != null && !env.isBlank()) {
      return Path.of(env).toAbsolutePath().normalize();
    }
    return repo().resolve("..").resolve("shared").normalize();
  }

  /** The book's data folder (iris.csv, predict.csv, ner.csv, ner_predict.csv). */
  static Path book() {
    Path book = shared().resolve("data").resolve("book");
    if (!Files.isRegularFile(book.resolve("iris.csv"))) {
      throw new IllegalStateException(
          "the book's data is missing at " + book + " (set MLBRIDGE_SHARED to the folder holding data/book)");
    }
    return book;
  }

  static Path book(String file) {
    return book().resolve(file);
  }

  /** The built server's entry point. */
  static Path serverCli() {
    return repo().resolve("packages").resolve("server").resolve("dist").resolve("cli.js");
  }
}
