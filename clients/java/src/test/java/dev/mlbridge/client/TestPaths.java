package dev.mlbridge.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Where the repository, the server and the tests' data are. Two kinds of data, both in the book's
 * formats:
 *
 * <ul>
 *   <li>the project's own ({@link #data()}: {@code build/test-data}, made by {@code
 *       scripts/make-test-data.mjs} from what the repository ships): always there, so a plain clone
 *       runs every test but the book's own;
 *   <li>the book's files ({@link #book()}: {@code ../shared/data/book} beside the checkout, or
 *       {@code $MLBRIDGE_SHARED/data/book}): optional; the tests that reproduce them are marked
 *       {@link BookData} and are skipped when {@link #hasBook()} is false.
 * </ul>
 */
final class TestPaths {
  private static final long MAKE_DATA_TIMEOUT_SECONDS = 120;

  private static Path data;
  private static boolean bookNoticePrinted;

  private TestPaths() {}

  /** The monorepo root: {@code -Dmlbridge.repo} (set by the pom), else two levels above the cwd. */
  static Path repo() {
    String prop = System.getProperty("mlbridge.repo");
    Path p = prop != null && !prop.isBlank() ? Path.of(prop) : Path.of("..", "..");
    return p.toAbsolutePath().normalize();
  }

  /**
   * The project's own test data folder, {@code <repo>/build/test-data} (iris.csv, predict.csv,
   * ner.csv, ner_predict.csv, ner_holdout.csv, ner_large.csv): made, or brought up to date, once
   * per JVM by {@code node scripts/make-test-data.mjs} (about 1.5 s the first time, instant after).
   */
  static synchronized Path data() {
    if (data == null) {
      data = makeData(repo().resolve("build").resolve("test-data"));
    }
    return data;
  }

  /** A file of the project's own test data. */
  static Path data(String file) {
    return data().resolve(file);
  }

  private static Path makeData(Path dir) {
    Path script = repo().resolve("scripts").resolve("make-test-data.mjs");
    if (!Files.isRegularFile(script)) {
      throw new IllegalStateException(
          "the project's test data cannot be made: " + script + " is missing");
    }
    List<String> command =
        List.of(System.getenv().getOrDefault("NODE", "node"), script.toString(), dir.toString());
    String how = String.join(" ", command);
    try {
      Path log = Files.createTempFile("mlbridge-make-test-data-", ".log");
      try {
        Process p =
            new ProcessBuilder(command)
                .directory(repo().toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(MAKE_DATA_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException(
              "making the project's test data took over "
                  + MAKE_DATA_TIMEOUT_SECONDS
                  + " s ("
                  + how
                  + "):\n"
                  + Files.readString(log, StandardCharsets.UTF_8));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
          throw new IllegalStateException(
              "making the project's test data failed with exit status "
                  + p.exitValue()
                  + " ("
                  + how
                  + "):\n"
                  + output);
        }
        for (String file : List.of("iris.csv", "predict.csv", "ner.csv", "ner_predict.csv")) {
          if (!Files.isRegularFile(dir.resolve(file))) {
            throw new IllegalStateException(
                how + " exited 0 but " + dir.resolve(file) + " is missing:\n" + output);
          }
        }
        return dir;
      } finally {
        Files.deleteIfExists(log);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(
          "could not run " + how + " (is node on the PATH, or $NODE set?)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while making the project's test data", e);
    }
  }

  /**
   * The shared folder holding {@code data/}: {@code $MLBRIDGE_SHARED}, else {@code
   * <repo>/../shared}.
   */
  static Path shared() {
    String env = System.getenv("MLBRIDGE_SHARED");
    if (env != null && !env.isBlank()) {
      return Path.of(env).toAbsolutePath().normalize();
    }
    return repo().resolve("..").resolve("shared").normalize();
  }

  private static Path bookDir() {
    return shared().resolve("data").resolve("book");
  }

  /**
   * Whether the book's files are there (iris.csv and ner.csv, as the Node runners check). When they
   * are not, prints once per JVM the line saying which tests are skipped and why.
   */
  static synchronized boolean hasBook() {
    Path book = bookDir();
    boolean present =
        Files.isRegularFile(book.resolve("iris.csv"))
            && Files.isRegularFile(book.resolve("ner.csv"));
    if (!present && !bookNoticePrinted) {
      bookNoticePrinted = true;
      System.err.println("mlbridge: " + bookSkippedLine());
    }
    return present;
  }

  /** The one line said when the book's tests are skipped (the same as the Node runners'). */
  static String bookSkippedLine() {
    return "the book's own data is not at "
        + bookDir()
        + " (set MLBRIDGE_SHARED to the folder holding data/book): the tests that reproduce the book's files are skipped;"
        + " every other test runs on the project's own data (build/test-data)";
  }

  /**
   * The book's data folder (iris.csv, predict.csv, ner.csv, ner_predict.csv); only for {@link
   * BookData} tests.
   */
  static Path book() {
    Path book = bookDir();
    if (!Files.isRegularFile(book.resolve("iris.csv"))) {
      throw new IllegalStateException(
          "the book's data is missing at "
              + book
              + " (set MLBRIDGE_SHARED to the folder holding data/book; a test that needs it must be marked @BookData)");
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
