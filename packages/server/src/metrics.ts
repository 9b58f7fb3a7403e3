import http from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics of the server. */
export interface Metrics {
  registry: Registry;
  /** RPC latency by method and status code, seconds. */
  rpcDuration: Histogram<"method" | "code">;
  /** Trainings running now. */
  trainingsInProgress: Gauge;
  /** Models loaded in memory (read from the store on scrape). */
  modelsLoaded: Gauge;
  /** Time of each return of freed native memory to the system (--trim-seconds), seconds. */
  nativeHeapTrim: Histogram;
  /** Latency of calls that name a model, by model (capped: MODEL_LABELS), method and code, seconds. */
  modelDuration: Histogram<"model" | "method" | "code">;
  /** Trainings ended, by model kind and outcome (ok, failed, cancelled, deadline). */
  trainings: Counter<"kind" | "outcome">;
  /** Bytes of the models loaded in memory (their stored size; read from the store on scrape). */
  modelsLoadedBytes: Gauge;
  /** HTTP request latency by route (the pattern matched) and HTTP status, seconds. */
  httpDuration: Histogram<"route" | "code">;
  /** Failed operations of the model store's backend, by operation (read, write, delete). */
  storeErrors: Counter<"operation">;
  /** 1 while the model store answers (a shared store's last poll succeeded), else 0. */
  storeUp: Gauge;
}

/**
 * Distinct model names that get a label of their own in per-model series; the
 * calls of any further model are counted under "_other", so that a caller
 * cannot grow the series without bound (a Prometheus server keeps each).
 */
export const MODEL_LABELS = 100;

/** Creates the registry; `loadedModels` and `loadedBytes` are read at each scrape. */
export function createMetrics(loadedModels: () => number, loadedBytes: () => number = () => 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mlbridge_" });
  const rpcDuration = new Histogram({
    name: "mlbridge_rpc_duration_seconds",
    help: "RPC latency by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const trainingsInProgress = new Gauge({ name: "mlbridge_trainings_in_progress", help: "Trainings running now.", registers: [registry] });
  const modelsLoaded = new Gauge({
    name: "mlbridge_models_loaded",
    help: "Models loaded in memory.",
    registers: [registry],
    collect() {
      this.set(loadedModels());
    },
  });
  const nativeHeapTrim = new Histogram({
    name: "mlbridge_native_heap_trim_seconds",
    help: "Time of each return of freed native memory to the system (malloc_trim, --trim-seconds): periodic, and once when calls stop.",
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "mlbridge_http_duration_seconds",
    help: "HTTP request latency by route and HTTP status.",
    labelNames: ["route", "code"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const modelDuration = new Histogram({
    name: "mlbridge_model_request_duration_seconds",
    help: `Latency of calls that name a model, by model (the first ${MODEL_LABELS} names seen; later ones as _other), method and gRPC status code.`,
    labelNames: ["model", "method", "code"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const trainings = new Counter({
    name: "mlbridge_trainings_total",
    help: "Trainings ended, by model kind and outcome (ok, failed, cancelled, deadline).",
    labelNames: ["kind", "outcome"] as const,
    registers: [registry],
  });
  const modelsLoadedBytes = new Gauge({
    name: "mlbridge_models_loaded_bytes",
    help: "Stored size of the models loaded in memory, bytes.",
    registers: [registry],
    collect() {
      this.set(loadedBytes());
    },
  });
  const storeErrors = new Counter({
    name: "mlbridge_store_errors_total",
    help: "Failed operations of the model store (read: a blob unreadable, missing or corrupt; write: a save; delete), by operation.",
    labelNames: ["operation"] as const,
    registers: [registry],
  });
  for (const operation of ["read", "write", "delete"]) storeErrors.labels({ operation }).inc(0); // present from the start, at 0
  const storeUp = new Gauge({
    name: "mlbridge_store_up",
    help: "1 while the model store answers (a shared store's last poll succeeded), else 0.",
    registers: [registry],
  });
  storeUp.set(1);
  return {
    registry,
    rpcDuration,
    trainingsInProgress,
    modelsLoaded,
    nativeHeapTrim,
    httpDuration,
    modelDuration,
    trainings,
    modelsLoadedBytes,
    storeErrors,
    storeUp,
  };
}

/** Serves GET /metrics (Prometheus text format). */
export function serveMetrics(metrics: Metrics, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
