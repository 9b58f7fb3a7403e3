import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type http from "node:http";
import type http2 from "node:http2";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Server, ServerCredentials, type ServerInterceptor } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { configureCrfTraining, disposeCrfTraining, prewarmCrfTraining, trimNativeHeap, type RuntimeRegistry } from "@mlbridge/core";
import { HealthImplementation } from "grpc-health-check";
import pino, { type Logger } from "pino";
import { PerConnectionSlots, Slots } from "./calls";
import type { ServerConfig } from "./config";
import type { ServiceContext } from "./context";
import { FILE_DESCRIPTOR_SET_BASE64 } from "./generated/descriptors";
import { GRPCInferenceServiceService } from "./generated/inference/grpc_predict_v2";
import { CrfServiceService } from "./generated/mlbridge/v1/crf_service";
import { ModelServiceService } from "./generated/mlbridge/v1/model_service";
import { TextServiceService } from "./generated/mlbridge/v1/text_service";
import { XgboostServiceService } from "./generated/mlbridge/v1/xgboost_service";
import { safeDecoding } from "./decode";
import { authInterceptor, observeInterceptor } from "./interceptors";
import { builtinRuntimes } from "./runtimes";
import { DiskStorage } from "./storage/disk";
import { S3Storage } from "./storage/s3";
import { createMetrics, serveMetrics, type Metrics } from "./metrics";
import { crfService } from "./services/crf";
import { inferenceHandlers, inferenceService } from "./services/inference";
import { serveHttp } from "./http";
import { modelService } from "./services/models";
import { textService } from "./services/text";
import { xgboostService } from "./services/xgboost";
import { ModelStore } from "./store";
import { loadAtStart } from "./load";
import { MeshModels, meshInferenceService, serveModelMesh } from "./services/modelmesh";
import { ModelSources } from "./source";

/** The folder holding the API definition. */
export const protoDir = path.resolve(__dirname, "..", "..", "..", "proto");
const SERVICES = [
  "mlbridge.v1.CrfService",
  "mlbridge.v1.XgboostService",
  "mlbridge.v1.TextService",
  "mlbridge.v1.ModelService",
  "inference.GRPCInferenceService",
];

/**
 * The serialized FileDescriptorProtos of proto/ and health.proto as buf
 * compiled them (imports included; scripts/gen-descriptors.mjs), for
 * reflection: proto-loader's protobufjs-made descriptors name map entries and
 * files in ways grpcurl (protobuf-go) rejects.
 */
function fileDescriptorProtos(): Uint8Array[] {
  const reader = new BinaryReader(Buffer.from(FILE_DESCRIPTOR_SET_BASE64, "base64"));
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

/** A running server. */
export interface RunningServer {
  /** The bound port. */
  port: number;
  /** The gRPC server. */
  server: Server;
  /** The shared service context (store, limits, metrics). */
  context: ServiceContext;
  /** The bound HTTP port, or undefined with --http-port off. */
  httpPort?: number;
  /** The bound ModelMesh SPI port, or undefined without --modelmesh-port. */
  modelmeshPort?: number;
  /** Stops accepting calls, lets in-flight ones finish for `graceSeconds`, then closes everything. */
  shutdown(graceSeconds?: number): Promise<void>;
}

function credentials(config: ServerConfig): ServerCredentials {
  if (!config.tlsCert || !config.tlsKey) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    config.tlsCa ? readFileSync(config.tlsCa) : null,
    [{ cert_chain: readFileSync(config.tlsCert), private_key: readFileSync(config.tlsKey) }],
    !!config.tlsCa,
  );
}

/**
 * Gives every HTTP/2 connection `bytes` of receive window, for the connection and
 * for each stream (HTTP/2 starts both at 65,535: a 4 MB request would wait for 64
 * WINDOW_UPDATEs; see FLOW_CONTROL_WINDOW). grpc-js has no server option for it
 * (`grpc-node.flow_control_window` is its client's), so this hooks the HTTP/2
 * servers grpc-js keeps in `http2Servers`, bound by now. The one private hook the
 * server keeps, because nothing public does it (grpc-js 1.14's
 * `grpc-node.flow_control_window` is its client's) and its cost is measured (bench
 * s3's 250,000-row batches). Should a grpc-js release rename them, the server keeps
 * the 64 KiB windows and says so in the log; the test "HTTP/2 flow control window"
 * checks what a client is granted.
 */
function widenFlowControlWindow(server: Server, bytes: number, log: Logger): void {
  if (bytes <= 65_535) return;
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) {
    log.warn({ flowControlWindow: bytes }, "cannot reach grpc-js's HTTP/2 servers: HTTP/2 receive windows stay at 64 KiB");
    return;
  }
  for (const h2 of http2Servers.keys() as IterableIterator<http2.Http2Server>)
    h2.on("session", (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: bytes });
        session.setLocalWindowSize(bytes);
      } catch (err) {
        log.debug({ err }, "HTTP/2 window not set (session already closing)");
      }
    });
}

/**
 * glibc keeps the C heap's freed pages (HTTP/2 sessions, JIT zones, request
 * buffers) mapped, so RSS would keep the peak of every burst: give them back
 * every `seconds` (0: never). Measured (docs/configuration.md): after 1M
 * single-row predictions the C heap held 28.7 MB, 10.6 MB once trimmed; a trim
 * blocks the event loop for under 1 to 5 ms.
 */
function scheduleTrims(seconds: number, metrics: Metrics, log: Logger): NodeJS.Timeout | undefined {
  if (!seconds) return undefined;
  return setInterval(() => {
    const end = metrics.nativeHeapTrim.startTimer();
    const released = trimNativeHeap();
    log.debug({ released, seconds: end() }, "native heap trimmed");
  }, seconds * 1000).unref();
}

/** ModelService's health name: NOT_SERVING while a shared store cannot be read (the other services serve cached models). */
const MODEL_SERVICE = "mlbridge.v1.ModelService";

/**
 * Reads a shared store's pointers every `seconds` (ModelStore.refresh): what
 * other servers trained, imported or deleted reaches this one within a
 * period. A failed read keeps the models in memory serving, is logged and
 * counted (mlbridge_store_errors_total{operation="read"}, mlbridge_store_up 0),
 * marks ModelService NOT_SERVING, and is retried at the next period.
 */
function pollStore(store: ModelStore, seconds: number, metrics: Metrics, log: Logger, setUp: (up: boolean) => void): { stop(): void } {
  let up = true;
  let stopped = false;
  let timer: NodeJS.Timeout;
  const tick = async () => {
    try {
      await store.refresh();
      if (!up) log.info({ store: store.location }, "the shared model store is readable again");
      up = true;
    } catch (err) {
      if (up)
        log.error({ store: store.location, err: (err as Error).message }, "cannot read the shared model store: serving the models in memory until it is back");
      up = false;
    }
    metrics.storeUp.set(up ? 1 : 0);
    setUp(up);
    if (!stopped) timer.refresh();
  };
  metrics.storeUp.set(1);
  timer = setTimeout(() => void tick(), seconds * 1000).unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

/** What an embedder may give startServer beside the configuration. */
export interface ServerOptions {
  /** The model kinds served (default: the built-in ones, runtimes.ts). */
  runtimes?: RuntimeRegistry;
}

/** Starts the mlbridge gRPC server with every service, health and reflection. */
export async function startServer(config: ServerConfig, log: Logger = pino({ level: config.logLevel }), options: ServerOptions = {}): Promise<RunningServer> {
  let store: ModelStore | undefined;
  const metrics = createMetrics(
    () => store?.loadedCount ?? 0,
    () => store?.loadedBytes ?? 0,
  );
  const storage = config.store
    ? await S3Storage.open(config.store, { endpoint: config.s3Endpoint, pathStyle: config.s3PathStyle }, log)
    : await DiskStorage.open(config.modelDir, log);
  try {
    store = await ModelStore.open(storage, {
      runtimes: options.runtimes ?? builtinRuntimes(),
      cacheSize: config.cacheSize,
      log,
      onError: (operation) => metrics.storeErrors.inc({ operation }),
    });
  } catch (err) {
    storage.close();
    throw err;
  }
  // Model files from outside the store (--load, ModelMesh), read with the store's S3 settings.
  const sources = new ModelSources({ endpoint: config.s3Endpoint, pathStyle: config.s3PathStyle }, config.maxUploadBytes);
  try {
    await loadAtStart(config.load, store, sources, log);
    return await serve(config, log, store, metrics, sources);
  } catch (err) {
    sources.close();
    store.close(); // the folder's lock too: a failed start (e.g. a port in use) leaves nothing held
    throw err;
  }
}

async function serve(config: ServerConfig, log: Logger, store: ModelStore, metrics: Metrics, sources: ModelSources): Promise<RunningServer> {
  const stopping = new AbortController();
  const context: ServiceContext = {
    config,
    store,
    runtimes: store.runtimes,
    log,
    trainings: new Slots(config.maxTrainings),
    trainingsPerConnection: new PerConnectionSlots(config.maxTrainingsPerConnection),
    metrics,
    stopping: stopping.signal,
  };

  const interceptors: ServerInterceptor[] = [observeInterceptor(log, metrics)];
  if (config.authToken) interceptors.push(authInterceptor(config.authToken));
  const server = new Server({
    interceptors,
    "grpc.max_receive_message_length": config.maxMessageBytes,
    "grpc.max_send_message_length": config.maxMessageBytes,
    "grpc.max_concurrent_streams": config.maxConcurrentStreams,
    // Accept client keepalive pings every 10 s (grpc-js and grpc-java defaults are
    // longer) instead of answering them with GOAWAY too_many_pings.
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
  });
  server.addService(safeDecoding(CrfServiceService), crfService(context));
  server.addService(safeDecoding(XgboostServiceService), xgboostService(context));
  server.addService(safeDecoding(TextServiceService), textService(context));
  server.addService(safeDecoding(ModelServiceService), modelService(context));
  // The Open Inference Protocol (KServe V2) over the same store: docs/inference-protocol.md.
  const inference = inferenceHandlers(context);
  // With ModelMesh, the models it placed here answer first (the mm-model-id header): services/modelmesh.ts.
  const mesh = config.modelmeshPort !== undefined ? new MeshModels(sources, store.runtimes, log) : undefined;
  const v2 = inferenceService(context, inference);
  server.addService(safeDecoding(GRPCInferenceServiceService), mesh ? meshInferenceService(mesh, v2, log) : v2);

  const health = new HealthImplementation(Object.fromEntries(["", ...SERVICES].map((s) => [s, "SERVING" as const])));
  health.addToServer(server);
  // @grpc/reflection only reads the `fileDescriptorProtos` of the definition's entries.
  const definitions = { "mlbridge.files": { fileDescriptorProtos: fileDescriptorProtos() } } as unknown as PackageDefinition;
  new ReflectionService(definitions).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}`, credentials(config), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  widenFlowControlWindow(server, config.flowControlWindow, log);
  let meshServer: Awaited<ReturnType<typeof serveModelMesh>> | undefined;
  if (mesh) {
    try {
      meshServer = await serveModelMesh(mesh, config, log, metrics);
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
  }
  let metricsServer: http.Server | undefined;
  if (config.metricsPort) metricsServer = await serveMetrics(metrics, config.metricsHost ?? config.host, config.metricsPort);
  let serving = true;
  let httpServer: http.Server | undefined;
  let httpPort: number | undefined;
  if (config.httpPort !== undefined) {
    try {
      httpServer = await serveHttp({ config, store, log, metrics, inference, serving: () => serving }, config.httpHost ?? config.host, config.httpPort);
    } catch (err) {
      server.forceShutdown();
      meshServer?.server.forceShutdown();
      metricsServer?.close();
      throw err;
    }
    httpPort = (httpServer.address() as AddressInfo).port;
    if (config.httpPortFile) await writeFile(config.httpPortFile, `${httpPort}\n`);
  }
  log.info(
    {
      host: config.host,
      port,
      httpPort,
      store: store.location,
      tls: !!config.tlsCert,
      auth: !!config.authToken,
      metricsPort: config.metricsPort || undefined,
    },
    "mlbridge listening",
  );
  if (!isLoopback(config.host) && (!config.tlsCert || !config.authToken)) {
    log.warn(
      { host: config.host, tls: !!config.tlsCert, auth: !!config.authToken },
      `listening on ${config.host}, beyond this machine, without ${[config.tlsCert ? "" : "TLS (--tls-cert/--tls-key)", config.authToken ? "" : "a token (--auth-token)"].filter(Boolean).join(" or ")}: anyone who can reach the port can train, replace and delete models`,
    );
  }
  // CRF trainings run in child processes at a lower priority; one is started
  // ahead so that the first training does not wait for it (core/src/crf/train-process.ts).
  configureCrfTraining({ nice: config.trainNice, threads: config.trainThreads });
  prewarmCrfTraining();
  const trimTimer = scheduleTrims(config.trimSeconds, metrics, log);
  // Started once serving (a failed start leaves nothing polling); silent once shutting down.
  const pollTimer = store.shared
    ? pollStore(store, config.storePollSeconds, metrics, log, (up) => {
        if (serving) health.setStatus(MODEL_SERVICE, up ? "SERVING" : "NOT_SERVING");
      })
    : undefined;
  if (config.portFile) await writeFile(config.portFile, `${port}\n`);

  let closing: Promise<void> | undefined;
  const shutdown = (graceSeconds = config.graceSeconds): Promise<void> =>
    (closing ??= (async () => {
      pollTimer?.stop();
      for (const s of ["", ...SERVICES]) health.setStatus(s, "NOT_SERVING");
      serving = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn({ graceSeconds, trainings: context.trainings.active }, "grace period over: stopping the trainings and cancelling the calls still running");
          // Trainings answer UNAVAILABLE "the server is shutting down" first;
          // whatever is still open a moment later is cut.
          stopping.abort();
          setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 500).unref();
        }, graceSeconds * 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      clearInterval(trimTimer);
      meshServer?.server.forceShutdown();
      await mesh?.purge();
      sources.close();
      metricsServer?.close();
      httpServer?.close();
      httpServer?.closeAllConnections();
      store.close();
      disposeCrfTraining();
      log.info("mlbridge stopped");
    })());
  return { port, server, context, httpPort, modelmeshPort: meshServer?.port, shutdown };
}
