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
  },
});
