package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The latency probe runs (a short run; no timing is asserted). */
@ExtendWith(MlBridgeServerExtension.class)
class LatencyProbeTest {
  @Test
  void shortRun(ServerProcess server) {
    LatencyProbe.Result r = LatencyProbe.run(server.address(), 300, 100);
    System.out.println(r);
    assertEquals(300, r.calls);
    assertTrue(r.minMicros > 0 && r.minMicros <= r.medianMicros && r.medianMicros <= r.maxMicros, r.toString());
  }
}
