import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The test settings core and server share: real native work and real servers need long timeouts. */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: [fileURLToPath(new URL("./vitest.global-setup.mts", import.meta.url))],
    // Trainings at the test runner's priority: the suites run side by side with other nice-0 work
    // (nx runs several at once), which a training at the default nice +19 yields to until it nearly
    // stops. core's crf-train-process.test.ts, whose subject is the priority, runs without it.
    env: { MLBRIDGE_TRAIN_NICE: process.env.MLBRIDGE_TRAIN_NICE ?? "0" },
  },
});
