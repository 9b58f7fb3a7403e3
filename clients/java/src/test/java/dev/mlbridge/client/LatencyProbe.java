package dev.mlbridge.client;

import java.util.Arrays;
import java.util.Locale;

/**
 * Measures the latency of single-row XGBoost predictions from Java: trains the book's iris model
 * (the {@code iris} preset, on the project's own iris.csv from {@link TestPaths#data()}, so it
 * needs no book data), warms up, then times {@code calls} sequential blocking {@link
 * XgboostClient#predict(String, float[][])} calls of one row each and prints the distribution. Not
 * a test: it asserts nothing.
 *
 * <pre>
 * cd clients/java
 * mvn -q test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.mlbridge.client.LatencyProbe \
 *     [-Dexec.args="CALLS WARMUP"]
 * </pre>
 *
 * Uses the server at {@code $MLBRIDGE_ADDRESS} when set, else starts one ({@code
 * packages/server/dist}).
 */
public final class LatencyProbe {
  private LatencyProbe() {}

  /** The measured distribution, in microseconds. */
  static final class Result {
    final int calls;
    final double medianMicros;
    final double p90Micros;
    final double p99Micros;
    final double minMicros;
    final double maxMicros;
    final double meanMicros;
    final double callsPerSecond;

    Result(long[] nanos, long totalNanos) {
      long[] sorted = nanos.clone();
      Arrays.sort(sorted);
      this.calls = sorted.length;
      this.medianMicros = percentile(sorted, 0.50);
      this.p90Micros = percentile(sorted, 0.90);
      this.p99Micros = percentile(sorted, 0.99);
      this.minMicros = sorted[0] / 1e3;
      this.maxMicros = sorted[sorted.length - 1] / 1e3;
      this.meanMicros = Arrays.stream(sorted).average().orElse(0) / 1e3;
      this.callsPerSecond = calls / (totalNanos / 1e9);
    }

    private static double percentile(long[] sorted, double q) {
      int n = sorted.length;
      if (q == 0.50 && n % 2 == 0) {
        return (sorted[n / 2 - 1] + sorted[n / 2]) / 2e3;
      }
      return sorted[Math.min(n - 1, (int) Math.ceil(q * n) - 1)] / 1e3;
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "single-row predict over %d sequential calls: median %.1f µs, p90 %.1f µs, p99 %.1f µs, "
              + "min %.1f µs, max %.1f µs, mean %.1f µs (%.0f calls/s)",
          calls,
          medianMicros,
          p90Micros,
          p99Micros,
          minMicros,
          maxMicros,
          meanMicros,
          callsPerSecond);
    }
  }

  static Result run(String address, int calls, int warmup) {
    if (calls < 1) {
      throw new IllegalArgumentException("calls must be positive");
    }
    String model = "latency-iris";
    try (MlBridgeClient client = MlBridgeClient.builder().address(address).build()) {
      client.xgboost().train(model, TestPaths.data("iris.csv"), XgboostTrainOptions.iris(), null);
      float[][] row = {{5.1f, 3.5f, 1.4f, 0.2f}};
      for (int i = 0; i < warmup; i++) {
        client.xgboost().predict(model, row);
      }
      long[] nanos = new long[calls];
      long start = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        long t0 = System.nanoTime();
        Prediction p = client.xgboost().predict(model, row);
        nanos[i] = System.nanoTime() - t0;
        if (p.rows() != 1) {
          throw new IllegalStateException("expected one row, got " + p);
        }
      }
      return new Result(nanos, System.nanoTime() - start);
    }
  }

  public static void main(String[] args) {
    int calls = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 3_000;
    String address = System.getenv(MlBridgeClient.ADDRESS_ENV);
    ServerProcess server = address == null || address.isBlank() ? ServerProcess.start() : null;
    try {
      String target = server != null ? server.address() : address;
      System.out.println(
          "server "
              + target
              + (server != null ? " (started by the probe)" : "")
              + ", warm-up "
              + warmup
              + " calls, JVM "
              + System.getProperty("java.version"));
      System.out.println(run(target, calls, warmup));
    } finally {
      if (server != null) {
        server.close();
      }
    }
  }
}
