#!/usr/bin/env node
/** The `mlbridge` command: `mlbridge serve [options]` (see --help). */
import pino from "pino";
import { loadConfig, USAGE, type ServerConfig } from "./config";
import { startServer } from "./server";

/** The server package's version (package.json sits beside dist/ and src/). */
const VERSION: string = (require("../package.json") as { version: string }).version;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-v" || command === "version") {
    process.stdout.write(`mlbridge ${VERSION}\n`);
    return 0;
  }
  if (command === "--help" || command === "-h" || command === "help" || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== "serve") {
    process.stderr.write(`mlbridge: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: ServerConfig;
  try {
    config = loadConfig(rest);
  } catch (err) {
    process.stderr.write(`mlbridge: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const log = pino({ level: config.logLevel });
  const running = await startServer(config, log);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "shutting down");
      running.shutdown().then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`mlbridge: ${err.message}\n`);
    process.exitCode = 1;
  },
);
