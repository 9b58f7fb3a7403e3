import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The same source the esbuild bundle takes (tsconfig.json "paths"): core's
    // word count, without core's build or its native addon.
    alias: {
      "@mlbridge/core/text": fileURLToPath(new URL("../core/src/text/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // The emulator test's setup builds the RIE (Go) and the runtime interface
    // client's native part the first time: minutes on 2 cores.
    hookTimeout: 900_000,
    pool: "forks",
  },
});
