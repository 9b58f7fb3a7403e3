/**
 * Model files from outside the store: a local file or folder (KServe mounts a
 * model at /mnt/models; ModelMesh's storage helper downloads one under
 * /models/<id>/) or an object (or prefix) on S3-compatible storage, reached
 * with the server's own S3 settings (--s3-endpoint, --s3-path-style, the
 * standard AWS variables). Read by `--load NAME=URI` (load.ts) and the
 * ModelMesh runtime SPI (services/modelmesh.ts), then kind-detected and
 * imported through the kind's runtime: the same checks as ModelService.ImportModel.
 */
import { open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import type { S3Client } from "@aws-sdk/client-s3";
import type { ImportedModel, ModelRuntime, RuntimeModel, RuntimeRegistry } from "@mlbridge/core";
import { statusError } from "./errors";
import type { S3Options } from "./storage/s3";

/** File names a folder's one model is picked by when the folder holds other files too. */
const MODEL_EXTENSIONS = [".json", ".ubj", ".bst", ".bin", ".model", ".crfsuite", ".crf"];

/** The kinds a model type name means (`--load KIND:URI`, ModelMesh's model_type.name, KServe's modelFormat). */
export const KIND_NAMES: Record<string, string> = { xgboost: "xgboost", crfsuite: "crf", crf: "crf" };

/** Bytes read from a source, with where they came from (for messages). */
export interface SourceBytes {
  bytes: Buffer;
  /** The file or object read (a folder's or prefix's one model). */
  location: string;
}

/** A source's bytes could not be read: `code` NOT_FOUND (nothing there), INVALID_ARGUMENT (not one model), UNAVAILABLE (the store). */
const sourceError = (code: status, message: string) => statusError(code, message);

/** The one model of a folder's or prefix's entries (file names), or an error listing them. */
function pickOne(entries: string[], where: string): string {
  const files = entries.filter((f) => !path.basename(f).startsWith("."));
  if (files.length === 1) return files[0];
  const models = files.filter((f) => MODEL_EXTENSIONS.includes(path.extname(f).toLowerCase()));
  if (models.length === 1) return models[0];
  if (files.length === 0) throw sourceError(status.NOT_FOUND, `${where} holds no model file`);
  const shown = (models.length ? models : files).slice(0, 8).map((f) => path.basename(f));
  throw sourceError(status.INVALID_ARGUMENT, `${where} holds ${files.length} files (${shown.join(", ")}): name the model file`);
}

/** Reads sources; holds one S3 client, made on first use. */
export class ModelSources {
  private s3?: Promise<{ client: S3Client; sdk: typeof import("@aws-sdk/client-s3") }>;

  constructor(
    private readonly s3Options: S3Options,
    /** Largest model read, bytes (--max-upload-bytes). */
    private readonly maxBytes: number,
  ) {}

  /**
   * The bytes of `uri`: `s3://bucket/key` (an object, or a prefix holding one
   * model) or a path (a file, or a folder holding one model).
   * @throws a status error naming the URI: NOT_FOUND, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE
   */
  read(uri: string, signal?: AbortSignal): Promise<SourceBytes> {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    return m ? this.readObject(m[1], m[2], signal) : this.readFile(uri);
  }

  private tooBig(size: number, where: string): void {
    if (size > this.maxBytes)
      throw sourceError(status.RESOURCE_EXHAUSTED, `${where} is ${size} bytes, over the server's limit of ${this.maxBytes} (--max-upload-bytes)`);
  }

  private async readFile(file: string): Promise<SourceBytes> {
    let where = path.resolve(file);
    let info = await stat(where).catch((err: NodeJS.ErrnoException) => {
      throw sourceError(
        err.code === "ENOENT" ? status.NOT_FOUND : status.INVALID_ARGUMENT,
        `${where}: ${err.code === "ENOENT" ? "no such file or folder" : err.code}`,
      );
    });
    if (info.isDirectory()) {
      const entries = await readdir(where, { withFileTypes: true });
      where = path.join(
        where,
        pickOne(
          entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name),
          where,
        ),
      );
      info = await stat(where);
    }
    if (!info.isFile()) throw sourceError(status.INVALID_ARGUMENT, `${where} is not a file`);
    this.tooBig(info.size, where);
    const fh = await open(where, "r");
    try {
      return { bytes: await fh.readFile(), location: where };
    } finally {
      await fh.close();
    }
  }

  private client() {
    this.s3 ??= (async () => {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"; // as S3Storage: the pinned SDK runs on Node 20
      const sdk = await import("@aws-sdk/client-s3");
      const client = new sdk.S3Client({
        endpoint: this.s3Options.endpoint,
        region: this.s3Options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
        forcePathStyle: this.s3Options.pathStyle,
        maxAttempts: 3,
      });
      return { client, sdk };
    })();
    return this.s3;
  }

  private async readObject(bucket: string, key: string, signal?: AbortSignal): Promise<SourceBytes> {
    const { client, sdk } = await this.client();
    const url = (k: string) => `s3://${bucket}/${k}`;
    const failed = (err: unknown, k: string) => {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
      const code = e.$metadata?.httpStatusCode;
      if (e.name === "NoSuchBucket") return sourceError(status.NOT_FOUND, `${url(k)}: bucket '${bucket}' does not exist`);
      if (code === 403 || code === 401) return sourceError(status.FAILED_PRECONDITION, `${url(k)}: access refused (HTTP ${code}): check the S3 credentials`);
      return sourceError(status.UNAVAILABLE, `${url(k)}: ${e.name ?? "Error"}${code ? ` (HTTP ${code})` : ""}: ${e.message ?? String(err)}`.slice(0, 400));
    };
    const get = async (k: string): Promise<SourceBytes | undefined> => {
      try {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: k }), { abortSignal: signal });
        this.tooBig(res.ContentLength ?? 0, url(k));
        return { bytes: Buffer.from(await res.Body!.transformToByteArray()), location: url(k) };
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; code?: number };
        if (typeof e.code === "number") throw err; // ours (tooBig)
        if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return undefined;
        throw failed(err, k);
      }
    };
    const direct = key && !key.endsWith("/") ? await get(key) : undefined;
    if (direct) return direct;
    // A "folder": the one model under the prefix.
    const prefix = key && !key.endsWith("/") ? `${key}/` : key;
    const keys: string[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
        for (const o of page.Contents ?? []) if (o.Key && !o.Key.endsWith("/")) keys.push(o.Key);
        token = page.IsTruncated && keys.length < 1000 ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw failed(err, prefix);
    }
    if (keys.length === 0) throw sourceError(status.NOT_FOUND, `${url(key)}: no such object, and no object under it`);
    const one = pickOne(keys, url(prefix));
    const got = await get(one);
    if (!got) throw sourceError(status.NOT_FOUND, `${url(one)}: no such object`);
    return got;
  }

  /** Releases the S3 client. */
  close(): void {
    void this.s3?.then(({ client }) => client.destroy()).catch(() => undefined);
  }
}

/**
 * The runtime of a model file: `kind` when given (a KIND_NAMES name), else
 * detected from the bytes (CRFsuite's `lCRF` magic; anything else is offered
 * to XGBoost, whose import says what it is not).
 * @throws INVALID_ARGUMENT for an unknown kind
 */
export function runtimeFor(runtimes: RuntimeRegistry, bytes: Buffer, kind?: string): ModelRuntime {
  if (kind !== undefined) {
    const name = KIND_NAMES[kind.toLowerCase()];
    if (!name || !runtimes.has(name))
      throw statusError(status.INVALID_ARGUMENT, `unknown model type ${JSON.stringify(kind)} (this server serves ${Object.keys(KIND_NAMES).join(", ")})`);
    return runtimes.get(name);
  }
  return runtimes.get(bytes.subarray(0, 4).toString("latin1") === "lCRF" ? "crf" : "xgboost");
}

/**
 * Imports a model file's bytes through its runtime (the untrusted path: checked
 * before anything serves it).
 * @throws INVALID_ARGUMENT saying what the bytes are not
 */
export async function importFile(runtime: ModelRuntime, source: SourceBytes): Promise<ImportedModel<RuntimeModel>> {
  try {
    return await runtime.import(source.bytes, undefined, {});
  } catch (err) {
    const e = err as { message?: string; code?: unknown };
    // The runtimes name ImportModel's `chunk` field; here the file is what is wrong.
    const what = (e.message ?? String(err)).replace(/^chunk: /, "");
    throw statusError(e.code === "FAILED_PRECONDITION" ? status.FAILED_PRECONDITION : status.INVALID_ARGUMENT, `${source.location}: ${what}`);
  }
}
