package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The book's Java example, run as the book runs it: a JVM in a folder holding data/. */
@ExtendWith(MlBridgeServerExtension.class)
class BookExampleTest {

  @Test
  void mainTrainsThenPrintsSetosa(ServerProcess server, @TempDir Path dir) throws Exception {
    Files.createSymbolicLink(dir.resolve("data"), TestPaths.book());
    Path out = dir.resolve("stdout.txt");
    Path err = dir.resolve("stderr.txt");
    ProcessBuilder pb = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"),
            "IrisClassificationXgboost")
        .directory(dir.toFile())
        .redirectOutput(out.toFile())
        .redirectError(err.toFile());
    pb.environment().put("MLBRIDGE_ADDRESS", server.address());

    long start = System.nanoTime();
    Process p = pb.start();
    boolean exited = p.waitFor(120, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    if (!exited) {
      p.destroyForcibly();
    }
    Files.delete(dir.resolve("data")); // the link, not the book's data
    List<String> lines = Files.readAllLines(out);
    String stderr = Files.readString(err);
    System.out.println("book main (new JVM: fit + predict) took " + millis + " ms; it printed:");
    lines.forEach(l -> System.out.println("  | " + l));

    assertTrue(exited, "IrisClassificationXgboost did not finish in 120 s");
    assertEquals(0, p.exitValue(), "exit status; stderr:\n" + stderr);
    assertEquals("setosa", lines.get(lines.size() - 1), "last line of stdout");
    assertTrue(lines.stream().anyMatch(l -> l.contains("train-merror")), "a train-merror eval line");
    assertTrue(lines.stream().anyMatch(l -> l.contains("test-merror")), "a test-merror eval line");
    assertTrue(lines.stream().filter(l -> l.contains("merror")).count() >= 2, "one eval line per round (2 rounds)");
  }

  @Test
  void mainReportsAMissingServerWithoutAStackTrace(@TempDir Path dir) throws Exception {
    Files.createSymbolicLink(dir.resolve("data"), TestPaths.book());
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    ProcessBuilder pb = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"),
            "IrisClassificationXgboost")
        .directory(dir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("out.txt").toFile());
    pb.environment().put("MLBRIDGE_ADDRESS", "127.0.0.1:" + port);
    Process p = pb.start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    Files.delete(dir.resolve("data"));
    String output = Files.readString(dir.resolve("out.txt"));
    assertEquals(1, p.exitValue(), output);
    assertTrue(output.contains("UNAVAILABLE") && output.contains("127.0.0.1:" + port), output);
    assertTrue(!output.contains("StatusRuntimeException") && !output.contains("\tat "), output);
  }
}
