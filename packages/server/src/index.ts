/** @mlbridge/server — the gRPC server as a library (the CLI is cli.ts). */
export { startServer, protoDir, type RunningServer } from "./server";
export { loadConfig, type ServerConfig } from "./config";
export { ModelStore, checkModelName, type ModelMeta } from "./store";
export { toServiceError } from "./errors";
