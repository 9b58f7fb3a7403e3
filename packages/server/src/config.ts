import { parseArgs } from "node:util";
import os from "node:os";
import path from "node:path";
import { parseS3Url } from "./storage/s3";

/** Server configuration: CLI flags, each also settable by an environment variable. */
export interface ServerConfig {
  /** Bind address (MLBRIDGE_HOST); default 127.0.0.1 — loopback only. */
  host: string;
  /** Port (MLBRIDGE_PORT); default 50051; 0 picks a free one. */
  port: number;
  /** Model store directory (MLBRIDGE_MODEL_DIR); default ~/.mlbridge/models. Unused with `store`. */
  modelDir: string;
  /** Shared model store on S3-compatible object storage, `s3://bucket/prefix` (MLBRIDGE_STORE); unset: the folder `modelDir`. */
  store?: string;
  /** Seconds between reads of a shared store's pointers (MLBRIDGE_STORE_POLL_SECONDS); default 2. */
  storePollSeconds: number;
  /** S3-compatible server's URL (MLBRIDGE_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); unset: AWS. */
  s3Endpoint?: string;
  /** Path-style S3 URLs (MLBRIDGE_S3_PATH_STYLE=1); default on with an endpoint, off for AWS. */
  s3PathStyle: boolean;
  /** Largest gRPC message accepted or sent, bytes (MLBRIDGE_MAX_MESSAGE_BYTES); default 64 MiB. */
  maxMessageBytes: number;
  /** Largest training upload (all chunks), bytes (MLBRIDGE_MAX_UPLOAD_BYTES); default 256 MiB (peak RSS measured at ~7 MiB per MB of CSV in flight: bench/stress.mjs). */
  maxUploadBytes: number;
  /** Trainings running at once (MLBRIDGE_MAX_TRAININGS); default 2; more get RESOURCE_EXHAUSTED. */
  maxTrainings: number;
  /**
   * Trainings one client connection may run at once (MLBRIDGE_MAX_TRAININGS_PER_CONNECTION);
   * default one less than maxTrainings (at least 1), so that one caller never holds every slot.
   */
  maxTrainingsPerConnection: number;
  /** Seconds a training upload may go without a message before it is abandoned (MLBRIDGE_UPLOAD_IDLE_SECONDS); default 30. */
  uploadIdleSeconds: number;
  /** Models kept loaded in memory (MLBRIDGE_CACHE_SIZE); default 64. */
  cacheSize: number;
  /** Nice increment of CRF training processes over the server's (MLBRIDGE_TRAIN_NICE), 0-19; default 19. */
  trainNice: number;
  /** Threads of an L-BFGS CRF training when it sets no `threads` parameter (MLBRIDGE_TRAIN_THREADS), 1-64; default the cores available. */
  trainThreads: number;
  /** Seconds between returns of freed native memory to the system (MLBRIDGE_TRIM_SECONDS); 0 = never; default 5. */
  trimSeconds: number;
  /** Concurrent streams per HTTP/2 connection (MLBRIDGE_MAX_STREAMS); default 100. */
  maxConcurrentStreams: number;
  /** HTTP/2 receive window per connection and per stream, bytes (MLBRIDGE_FLOW_CONTROL_WINDOW); default 4 MiB. */
  flowControlWindow: number;
  /** TLS certificate chain, PEM file (MLBRIDGE_TLS_CERT). */
  tlsCert?: string;
  /** TLS private key, PEM file (MLBRIDGE_TLS_KEY). */
  tlsKey?: string;
  /** CA bundle, PEM file: when set, clients must present a certificate it signed (mutual TLS) (MLBRIDGE_TLS_CA). */
  tlsCa?: string;
  /** Bearer token required on every RPC but health (MLBRIDGE_AUTH_TOKEN). */
  authToken?: string;
  /** HTTP port (MLBRIDGE_HTTP_PORT): the V2 REST protocol, /metrics, /healthz, /readyz; default 8000; 0 = any free one; undefined = off. */
  httpPort?: number;
  /** HTTP bind address (MLBRIDGE_HTTP_HOST); default the gRPC host. */
  httpHost?: string;
  /** File to write the bound HTTP port to once serving. */
  httpPortFile?: string;
  /** Prometheus metrics port (MLBRIDGE_METRICS_PORT); 0 = off (default). */
  metricsPort: number;
  /** Prometheus metrics bind address (MLBRIDGE_METRICS_HOST); default the gRPC host. */
  metricsHost?: string;
  /** File to write the bound port to once serving (for tests and supervisors). */
  portFile?: string;
  /** Seconds to let in-flight calls finish on SIGTERM/SIGINT (MLBRIDGE_GRACE_SECONDS); default 10. */
  graceSeconds: number;
  /** Log level (MLBRIDGE_LOG_LEVEL); default info. */
  logLevel: string;
  /** Models put into the store at start (`--load NAME=URI`, repeatable; MLBRIDGE_LOAD, comma-separated): load.ts. */
  load: ModelLoad[];
  /** Port of the ModelMesh runtime SPI, mmesh.ModelRuntime (MLBRIDGE_MODELMESH_PORT); undefined = off (default). */
  modelmeshPort?: number;
  /** Bind address of the ModelMesh SPI (MLBRIDGE_MODELMESH_HOST); default 127.0.0.1 (ModelMesh calls it inside the pod). */
  modelmeshHost: string;
  /** Memory the ModelMesh SPI reports for models, bytes (MLBRIDGE_MODELMESH_CAPACITY_BYTES); default 1 GiB. */
  modelmeshCapacityBytes: number;
}

/** One `--load NAME=URI`: a model put into the store under NAME at start. */
export interface ModelLoad {
  name: string;
  /** As given (for messages), the kind prefix included. */
  uri: string;
  /** The file, folder or `s3://bucket/key` to read. */
  path: string;
  /** The kind named by a `KIND:` prefix (xgboost, crfsuite, crf); undefined: detected from the bytes. */
  kind?: string;
}

const FLAGS = {
  host: { type: "string", env: "MLBRIDGE_HOST" },
  port: { type: "string", env: "MLBRIDGE_PORT" },
  "model-dir": { type: "string", env: "MLBRIDGE_MODEL_DIR" },
  store: { type: "string", env: "MLBRIDGE_STORE" },
  "store-poll-seconds": { type: "string", env: "MLBRIDGE_STORE_POLL_SECONDS" },
  "s3-endpoint": { type: "string", env: "MLBRIDGE_S3_ENDPOINT" },
  "s3-path-style": { type: "string", env: "MLBRIDGE_S3_PATH_STYLE" },
  "max-message-bytes": { type: "string", env: "MLBRIDGE_MAX_MESSAGE_BYTES" },
  "max-upload-bytes": { type: "string", env: "MLBRIDGE_MAX_UPLOAD_BYTES" },
  "max-trainings": { type: "string", env: "MLBRIDGE_MAX_TRAININGS" },
  "max-trainings-per-connection": { type: "string", env: "MLBRIDGE_MAX_TRAININGS_PER_CONNECTION" },
  "upload-idle-seconds": { type: "string", env: "MLBRIDGE_UPLOAD_IDLE_SECONDS" },
  "train-nice": { type: "string", env: "MLBRIDGE_TRAIN_NICE" },
  "train-threads": { type: "string", env: "MLBRIDGE_TRAIN_THREADS" },
  "cache-size": { type: "string", env: "MLBRIDGE_CACHE_SIZE" },
  "trim-seconds": { type: "string", env: "MLBRIDGE_TRIM_SECONDS" },
  "max-streams": { type: "string", env: "MLBRIDGE_MAX_STREAMS" },
  "flow-control-window": { type: "string", env: "MLBRIDGE_FLOW_CONTROL_WINDOW" },
  "tls-cert": { type: "string", env: "MLBRIDGE_TLS_CERT" },
  "tls-key": { type: "string", env: "MLBRIDGE_TLS_KEY" },
  "tls-ca": { type: "string", env: "MLBRIDGE_TLS_CA" },
  "auth-token": { type: "string", env: "MLBRIDGE_AUTH_TOKEN" },
  "http-port": { type: "string", env: "MLBRIDGE_HTTP_PORT" },
  "http-host": { type: "string", env: "MLBRIDGE_HTTP_HOST" },
  "http-port-file": { type: "string", env: "MLBRIDGE_HTTP_PORT_FILE" },
  "metrics-port": { type: "string", env: "MLBRIDGE_METRICS_PORT" },
  "metrics-host": { type: "string", env: "MLBRIDGE_METRICS_HOST" },
  "port-file": { type: "string", env: "MLBRIDGE_PORT_FILE" },
  "grace-seconds": { type: "string", env: "MLBRIDGE_GRACE_SECONDS" },
  "log-level": { type: "string", env: "MLBRIDGE_LOG_LEVEL" },
  load: { type: "string", env: "MLBRIDGE_LOAD", multiple: true },
  "modelmesh-port": { type: "string", env: "MLBRIDGE_MODELMESH_PORT" },
  "modelmesh-host": { type: "string", env: "MLBRIDGE_MODELMESH_HOST" },
  "modelmesh-capacity-bytes": { type: "string", env: "MLBRIDGE_MODELMESH_CAPACITY_BYTES" },
} as const;

/** Usage text of `mlbridge serve`. */
export const USAGE = `Usage: mlbridge serve [options]
       mlbridge --version

Options (each also an environment variable):
  --host ADDR              bind address (MLBRIDGE_HOST, default 127.0.0.1)
  --port N                 port, 0 = any free one (MLBRIDGE_PORT, default 50051)
  --model-dir DIR          model store (MLBRIDGE_MODEL_DIR, default ~/.mlbridge/models)
  --store s3://BUCKET/PFX  a model store shared by several servers, on S3-compatible object storage, instead of
                           --model-dir (MLBRIDGE_STORE); credentials and region from the standard AWS environment
                           variables and shared config
  --store-poll-seconds N   how often a shared store is read for other servers' changes (MLBRIDGE_STORE_POLL_SECONDS,
                           default 2)
  --s3-endpoint URL        an S3-compatible server (MLBRIDGE_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3 or
                           AWS_ENDPOINT_URL; default AWS)
  --s3-path-style 0|1      path-style URLs (MLBRIDGE_S3_PATH_STYLE; default 1 with an endpoint, 0 for AWS)
  --max-message-bytes N    largest gRPC message (MLBRIDGE_MAX_MESSAGE_BYTES, default 67108864)
  --max-upload-bytes N     largest training upload (MLBRIDGE_MAX_UPLOAD_BYTES, default 268435456)
  --max-trainings N        trainings at once (MLBRIDGE_MAX_TRAININGS, default 2)
  --max-trainings-per-connection N
                           trainings at once from one client connection (MLBRIDGE_MAX_TRAININGS_PER_CONNECTION,
                           default --max-trainings minus 1, at least 1: one caller never holds every slot)
  --upload-idle-seconds N  abandon a training upload that sends nothing for N seconds, freeing its slot
                           (MLBRIDGE_UPLOAD_IDLE_SECONDS, default 30)
  --train-nice N           CPU priority of CRF training processes, added to the server's nice value, 0-19
                           (MLBRIDGE_TRAIN_NICE, default 19: requests first, trainings on idle CPU)
  --train-threads N        threads of an L-BFGS CRF training that sets no \`threads\` parameter, 1-64
                           (MLBRIDGE_TRAIN_THREADS, default the cores available)
  --cache-size N           models kept in memory (MLBRIDGE_CACHE_SIZE, default 64)
  --trim-seconds N         return freed native (C heap) memory to the system every N seconds, 0 = never
                           (MLBRIDGE_TRIM_SECONDS, default 5)
  --max-streams N          concurrent streams per connection (MLBRIDGE_MAX_STREAMS, default 100)
  --flow-control-window N  HTTP/2 receive window of each connection and stream, bytes
                           (MLBRIDGE_FLOW_CONTROL_WINDOW, default 4194304; HTTP/2's own is 65535)
  --tls-cert FILE          TLS certificate chain, PEM (MLBRIDGE_TLS_CERT)
  --tls-key FILE           TLS private key, PEM (MLBRIDGE_TLS_KEY)
  --tls-ca FILE            require client certificates signed by this CA (MLBRIDGE_TLS_CA)
  --auth-token TOKEN       require "authorization: Bearer TOKEN" (MLBRIDGE_AUTH_TOKEN)
  --http-port N|off        HTTP port: the V2 REST protocol, /metrics, /healthz, /readyz; 0 = any free one
                           (MLBRIDGE_HTTP_PORT, default 8000; docs/http.md)
  --http-host ADDR         HTTP bind address (MLBRIDGE_HTTP_HOST, default --host)
  --http-port-file FILE    write the bound HTTP port here once serving
  --metrics-port N         a separate Prometheus /metrics port, 0 = none (MLBRIDGE_METRICS_PORT, default 0;
                           /metrics is on the HTTP port anyway)
  --metrics-host ADDR      metrics bind address (MLBRIDGE_METRICS_HOST, default --host)
  --port-file FILE         write the bound port here once serving
  --grace-seconds N        shutdown grace period (MLBRIDGE_GRACE_SECONDS, default 10)
  --log-level LEVEL        trace|debug|info|warn|error (MLBRIDGE_LOG_LEVEL, default info)
  --load NAME=[KIND:]URI   put a model into the store under NAME at start, from a file, a folder holding one
                           model (KServe's /mnt/models) or s3://bucket/key; KIND xgboost|crfsuite, else detected;
                           repeatable (MLBRIDGE_LOAD, comma-separated); a missing or corrupt model stops the start
  --modelmesh-port N       serve KServe ModelMesh's runtime SPI (mmesh.ModelRuntime) on this port, 0 = any free
                           one (MLBRIDGE_MODELMESH_PORT, default off; docs/kubernetes.md)
  --modelmesh-host ADDR    its bind address (MLBRIDGE_MODELMESH_HOST, default 127.0.0.1)
  --modelmesh-capacity-bytes N
                           memory for ModelMesh's models, reported to ModelMesh
                           (MLBRIDGE_MODELMESH_CAPACITY_BYTES, default 1073741824)
`;

/**
 * Default HTTP/2 receive window, bytes. grpc-js leaves Node's 64 KiB, so a client
 * sending a 4 MB batch waits for a WINDOW_UPDATE every 64 KiB; grpc-java's Netty
 * transport starts at 1 MiB and grpc-go grows to 16 MiB. Measured in bench s3
 * (1M rows in 4 MB requests, 4 in flight): 117-126 ms with 64 KiB, 93-105 ms with
 * 1-16 MiB; 4 MiB holds one whole default-sized batch request per stream.
 */
export const FLOW_CONTROL_WINDOW = 4 * 1024 * 1024;

const LOAD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * Parses `--load` values: `NAME=URI`, URI optionally prefixed `KIND:`.
 * @throws Error naming the value
 */
export function parseLoads(values: string[]): ModelLoad[] {
  const names = new Set<string>();
  return values.map((raw) => {
    const eq = raw.indexOf("=");
    const name = eq > 0 ? raw.slice(0, eq) : "";
    const uri = eq > 0 ? raw.slice(eq + 1).trim() : "";
    if (!LOAD_NAME.test(name) || !uri)
      throw new Error(`--load ${JSON.stringify(raw)}: expected NAME=URI (NAME: 1 to 128 letters, digits, '.', '_' or '-', not starting with '.')`);
    if (names.has(name)) throw new Error(`--load ${JSON.stringify(raw)}: the name '${name}' is given twice`);
    names.add(name);
    const m = /^(xgboost|crfsuite|crf):(?!\/\/)(.+)$/i.exec(uri);
    const target = m ? m[2] : uri;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !/^s3:\/\/[^/]+/.test(target))
      throw new Error(`--load ${JSON.stringify(raw)}: expected a path or s3://bucket/key`);
    return { name, uri, path: target, kind: m?.[1].toLowerCase() };
  });
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * Reads the configuration from CLI arguments (after `serve`) and the environment;
 * flags win over variables.
 * @throws Error naming the flag for a bad value or an unknown flag
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const options = Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [k, { type: v.type, multiple: "multiple" in v }])) as Record<
    string,
    { type: "string"; multiple: boolean }
  >;
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const get = (k: Exclude<keyof typeof FLAGS, "load">): string | undefined => (values[k] as string | undefined) ?? env[FLAGS[k].env] ?? undefined;
  const loads = (values.load as string[] | undefined) ?? (env.MLBRIDGE_LOAD ? env.MLBRIDGE_LOAD.split(",").filter((v) => v.trim()) : []);
  const tlsCert = get("tls-cert");
  const tlsKey = get("tls-key");
  if (!!tlsCert !== !!tlsKey) throw new Error("--tls-cert and --tls-key go together");
  const tlsCa = get("tls-ca");
  if (tlsCa && !tlsCert) throw new Error("--tls-ca needs --tls-cert and --tls-key");
  const logLevel = get("log-level") ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) throw new Error(`--log-level: unknown level ${logLevel}`);
  const maxTrainings = int("max-trainings", get("max-trainings"), 2, 1, 1024);
  const store = get("store") || undefined;
  if (store !== undefined) parseS3Url(store);
  const s3Endpoint = get("s3-endpoint") || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (s3Endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(s3Endpoint))
    throw new Error(`--s3-endpoint ${JSON.stringify(s3Endpoint)}: expected an http:// or https:// URL`);
  const pathStyle = get("s3-path-style");
  if (pathStyle !== undefined && pathStyle !== "0" && pathStyle !== "1") throw new Error(`--s3-path-style: expected 0 or 1, got ${JSON.stringify(pathStyle)}`);
  return {
    store,
    storePollSeconds: int("store-poll-seconds", get("store-poll-seconds"), 2, 1, 3600),
    s3Endpoint,
    s3PathStyle: pathStyle === undefined ? s3Endpoint !== undefined : pathStyle === "1",
    host: get("host") ?? "127.0.0.1",
    port: int("port", get("port"), 50051, 0, 65535),
    modelDir: path.resolve(get("model-dir") ?? path.join(os.homedir(), ".mlbridge", "models")),
    maxMessageBytes: int("max-message-bytes", get("max-message-bytes"), 64 * 1024 * 1024, 1024, 2 ** 31 - 1),
    maxUploadBytes: int("max-upload-bytes", get("max-upload-bytes"), 256 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    maxTrainings,
    maxTrainingsPerConnection: int("max-trainings-per-connection", get("max-trainings-per-connection"), Math.max(1, maxTrainings - 1), 1, 1024),
    uploadIdleSeconds: int("upload-idle-seconds", get("upload-idle-seconds"), 30, 1, 86_400),
    cacheSize: int("cache-size", get("cache-size"), 64, 1, 1_000_000),
    trainNice: int("train-nice", get("train-nice"), 19, 0, 19),
    trainThreads: int("train-threads", get("train-threads"), Math.min(64, os.availableParallelism()), 1, 64),
    trimSeconds: int("trim-seconds", get("trim-seconds"), 5, 0, 86_400),
    maxConcurrentStreams: int("max-streams", get("max-streams"), 100, 1, 100_000),
    flowControlWindow: int("flow-control-window", get("flow-control-window"), FLOW_CONTROL_WINDOW, 65_535, 2 ** 31 - 1),
    tlsCert,
    tlsKey,
    tlsCa,
    authToken: get("auth-token") || undefined,
    httpPort: get("http-port") === "off" ? undefined : int("http-port", get("http-port"), 8000, 0, 65535),
    httpHost: get("http-host"),
    httpPortFile: get("http-port-file"),
    metricsPort: int("metrics-port", get("metrics-port"), 0, 0, 65535),
    metricsHost: get("metrics-host"),
    portFile: get("port-file"),
    graceSeconds: int("grace-seconds", get("grace-seconds"), 10, 0, 3600),
    logLevel,
    load: parseLoads(loads),
    modelmeshPort: get("modelmesh-port") ? int("modelmesh-port", get("modelmesh-port"), 0, 0, 65535) : undefined,
    modelmeshHost: get("modelmesh-host") ?? "127.0.0.1",
    modelmeshCapacityBytes: int("modelmesh-capacity-bytes", get("modelmesh-capacity-bytes"), 1024 ** 3, 1024 * 1024, Number.MAX_SAFE_INTEGER),
  };
}
