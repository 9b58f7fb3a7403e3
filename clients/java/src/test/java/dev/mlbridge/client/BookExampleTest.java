package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The book's Java example, run as the book runs it: a JVM in a folder holding data/ (iris.csv,
 * predict.csv). On the project's own data always; on the book's files too when they are there.
 */
@ExtendWith(MlBridgeServerExtension.class)
class BookExampleTest {

  /** What a run of {@code java IrisClassificationXgboost} did. */
  private record Run(
      boolean exited, int exitValue, List<String> stdout, String stderr, long millis) {}

  /**
   * Runs the book's main class in {@code dir}, whose {@code data} links to {@code data} for the
   * run, against the server at {@code address}.
   */
  private static Run runMain(Path dir, Path data, String address, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path link = Files.createSymbolicLink(dir.resolve("data"), data);
    Path out = dir.resolve("stdout.txt");
    Path err = dir.resolve("stderr.txt");
    ProcessBuilder pb =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "IrisClassificationXgboost")
            .directory(dir.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
    pb.environment().put(MlBridgeClient.ADDRESS_ENV, address);
    long start = System.nanoTime();
    Process p = pb.start();
    try {
      boolean exited = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      if (!exited) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      return new Run(
          exited,
          exited ? p.exitValue() : -1,
          Files.readAllLines(out),
          Files.readString(err),
          millis);
    } finally {
      Files.delete(link); // the link, not the data it points to
    }
  }

  /** The book's run: one eval line per boosting round (2 rounds), then the species. */
  private static void assertTrainsThenPrintsSetosa(Run run, String which) {
    System.out.println(
        "book main on "
            + which
            + " (new JVM: fit + predict) took "
            + run.millis()
            + " ms; it printed:");
    run.stdout().forEach(l -> System.out.println("  | " + l));
    assertTrue(run.exited(), "IrisClassificationXgboost did not finish in 120 s");
    assertEquals(0, run.exitValue(), "exit status; stderr:\n" + run.stderr());
    List<String> lines = run.stdout();
    assertTrue(!lines.isEmpty(), "no output; stderr:\n" + run.stderr());
    assertEquals("setosa", lines.get(lines.size() - 1), "last line of stdout");
    assertTrue(
        lines.stream().anyMatch(l -> l.contains("train-merror")), "a train-merror eval line");
    assertTrue(lines.stream().anyMatch(l -> l.contains("test-merror")), "a test-merror eval line");
    assertEquals(
        2,
        lines.stream().filter(l -> l.contains("merror")).count(),
        "one eval line per round (2 rounds)");
  }

  /** The behaviour on any folder holding data/iris.csv and data/predict.csv: the project's own. */
  @Test
  void mainTrainsThenPrintsSetosa(ServerProcess server, @TempDir Path dir) throws Exception {
    assertTrainsThenPrintsSetosa(
        runMain(dir, TestPaths.data(), server.address(), 120), "the project's data");
  }

  /** The book's own run, on the book's own files. */
  @Test
  @BookData
  void mainTrainsThenPrintsSetosaOnTheBooksData(ServerProcess server, @TempDir Path dir)
      throws Exception {
    assertTrainsThenPrintsSetosa(
        runMain(dir, TestPaths.book(), server.address(), 120), "the book's data");
  }

  @Test
  void mainReportsAMissingServerWithoutAStackTrace(@TempDir Path dir) throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Run run = runMain(dir, TestPaths.data(), "127.0.0.1:" + port, 60);
    String output = String.join("\n", run.stdout()) + "\n" + run.stderr();
    assertTrue(run.exited(), "IrisClassificationXgboost did not finish in 60 s");
    assertEquals(1, run.exitValue(), output);
    assertTrue(
        run.stderr().contains("UNAVAILABLE") && run.stderr().contains("127.0.0.1:" + port), output);
    assertTrue(!output.contains("StatusRuntimeException") && !output.contains("\tat "), output);
  }
}
