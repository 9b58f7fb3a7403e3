package dev.mlbridge.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * The real mlbridge server ({@code node packages/server/dist/cli.js serve}) on a free loopback port
 * with a fresh model store in a temporary folder; {@link #close()} stops it with SIGTERM and
 * removes the folder.
 */
final class ServerProcess implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Process process;
  private final Thread killOnExit;
  private final Path dir;
  private final Path log;
  private final int port;

  private ServerProcess(Process process, Path dir, Path log, int port) {
    this.process = process;
    this.dir = dir;
    // Should the test JVM be stopped before close() (a timeout, Ctrl-C), take the server along.
    this.killOnExit = new Thread(process::destroy, "mlbridge-server-reaper");
    Runtime.getRuntime().addShutdownHook(killOnExit);
    this.log = log;
    this.port = port;
  }

  /**
   * Starts a server with {@code extraArgs} (e.g. {@code --auth-token t}) and waits until it serves.
   */
  static ServerProcess start(String... extraArgs) {
    Path cli = TestPaths.serverCli();
    if (!Files.isRegularFile(cli)) {
      throw new IllegalStateException(
          "the server is not built: "
              + cli
              + " is missing (run: cd "
              + TestPaths.repo()
              + " && npx nx run server:build)");
    }
    try {
      Path dir = Files.createTempDirectory("mlbridge-java-test-");
      Path models = Files.createDirectories(dir.resolve("models"));
      Path portFile = dir.resolve("port");
      Path log = dir.resolve("server.log");
      List<String> command =
          new ArrayList<>(
              List.of(
                  System.getenv().getOrDefault("NODE", "node"),
                  cli.toString(),
                  "serve",
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "0",
                  "--http-port",
                  "0",
                  "--model-dir",
                  models.toString(),
                  "--port-file",
                  portFile.toString(),
                  // Trainings at the server's priority: the suites run side by side with other
                  // work, which a niced training (the default, +19) yields to until it nearly
                  // stops. The server's tests cover the priority itself.
                  "--train-nice",
                  "0"));
      command.addAll(List.of(extraArgs));
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .directory(TestPaths.repo().toFile())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      // The server reads MLBRIDGE_* settings from its environment: start it from a clean slate.
      pb.environment().keySet().removeIf(k -> k.startsWith("MLBRIDGE_"));
      Process process = pb.start();
      long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
      while (true) {
        Integer port = readPort(portFile);
        if (port != null) {
          return new ServerProcess(process, dir, log, port);
        }
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "the server exited with "
                  + process.exitValue()
                  + " before serving:\n"
                  + Files.readString(log));
        }
        if (System.nanoTime() > deadline) {
          process.destroyForcibly();
          throw new IllegalStateException(
              "the server did not write its port within "
                  + START_TIMEOUT
                  + ":\n"
                  + Files.readString(log));
        }
        Thread.sleep(25);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting the server", e);
    }
  }

  private static Integer readPort(Path portFile) throws IOException {
    if (!Files.isRegularFile(portFile)) {
      return null;
    }
    String text = Files.readString(portFile, StandardCharsets.UTF_8).trim();
    try {
      return text.isEmpty() ? null : Integer.valueOf(text);
    } catch (NumberFormatException partial) {
      return null;
    }
  }

  int port() {
    return port;
  }

  /** {@code 127.0.0.1:<port>}. */
  String address() {
    return "127.0.0.1:" + port;
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** The server's JSON log so far. */
  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** A client of this server. */
  MlBridgeClient client() {
    return client(b -> b);
  }

  /** A client of this server, with builder settings (token, deadline). */
  MlBridgeClient client(UnaryOperator<MlBridgeClient.Builder> configure) {
    return configure.apply(MlBridgeClient.builder().address(address())).build();
  }

  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and removes its folder. */
  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(killOnExit);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or will run: nothing to remove
    }
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a leftover temporary folder is harmless
    }
  }
}
