import { createHash } from "node:crypto";
import { status } from "@grpc/grpc-js";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { statusError } from "../errors";
import { CommitConflict, type ModelMeta, type ModelStorage } from "./storage";

/** Where an `s3://bucket/prefix` store lives and how to reach it. */
export interface S3Location {
  bucket: string;
  /** The key prefix, without a trailing slash ("" for the bucket's root). */
  prefix: string;
}

/** Connection options beside the URL (credentials come from the standard AWS environment and shared config). */
export interface S3Options {
  /** An S3-compatible server's URL (MinIO, versitygw, Ceph...); unset: AWS. */
  endpoint?: string;
  /** The region to sign for; unset: AWS_REGION / the shared config, else us-east-1. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers want. */
  pathStyle?: boolean;
}

/**
 * Parses `s3://bucket/prefix`.
 * @throws INVALID_ARGUMENT naming the URL when it is not one
 */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/.exec(url);
  if (!m) {
    throw new Error(
      `--store ${JSON.stringify(url)}: expected s3://bucket[/prefix] (a bucket name of 3 to 63 lowercase letters, digits, '.' and '-'; a folder store is --model-dir)`,
    );
  }
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((p) => p === "." || p === "..")) throw new Error(`--store ${JSON.stringify(url)}: the prefix must not hold '.' or '..' parts`);
  return { bucket: m[1], prefix };
}

/** The HTTP status of an SDK error, if it has one. */
const httpStatus = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const errorName = (err: unknown): string => (err as { name?: string }).name ?? "Error";
const notFound = (err: unknown) => errorName(err) === "NoSuchKey" || errorName(err) === "NotFound" || httpStatus(err) === 404;
const preconditionFailed = (err: unknown) => httpStatus(err) === 412 || errorName(err) === "PreconditionFailed";
/** A conditional write lost to another writer: 412, 409 ConditionalRequestConflict (concurrent), 404 (If-Match on a key deleted meanwhile). */
const lostRace = (err: unknown) => preconditionFailed(err) || httpStatus(err) === 409 || httpStatus(err) === 404;

/**
 * The store on S3-compatible object storage, shared by every server given the
 * same URL. Blobs are content-addressed and immutable
 * (`<prefix>/blobs/<sha256>`); a model's pointer (`<prefix>/models/<name>.json`,
 * its metadata) is replaced with a conditional write: `If-None-Match: *` for
 * a new name, `If-Match: <the ETag this server read>` for a replacement, so of
 * two servers storing one name at once, one wins and the other gets a
 * CommitConflict, never a mix. Blobs are never deleted here: another server
 * may be committing a pointer to one (an operator's lifecycle rule, or
 * `mlbridge` tooling later, collects the unnamed ones).
 */
export class S3Storage implements ModelStorage {
  readonly shared = true;
  readonly location: string;
  /** Each pointer as last read or written by this server: its ETag and metadata (a poll GETs only what changed). */
  private readonly pointers = new Map<string, { etag: string; meta: ModelMeta }>();

  private constructor(
    private readonly s3: S3Client,
    private readonly sdk: typeof import("@aws-sdk/client-s3"),
    private readonly where: S3Location,
    private readonly log: Logger,
  ) {
    this.location = `s3://${where.bucket}${where.prefix ? `/${where.prefix}` : ""}`;
  }

  /**
   * Connects and checks that the bucket is there and the credentials are
   * accepted (one ListObjectsV2 of the pointers).
   * @throws FAILED_PRECONDITION naming the store: a missing bucket, refused credentials, an unreachable endpoint
   */
  static async open(url: string, options: S3Options, log: Logger): Promise<S3Storage> {
    const where = parseS3Url(url);
    // Loaded only for an s3:// store: a folder store never pays for the SDK. Its notice that
    // releases after early 2027 need Node 22 goes to the log as one JSON line, not to stderr
    // (the version is pinned exactly in package.json; it runs on Node 20).
    if (Number(process.versions.node.split(".")[0]) < 22 && process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
      log.info({ node: process.version }, "the AWS SDK for JavaScript releases after early 2027 need Node >= 22; the pinned one runs on this Node");
    }
    const sdk = await import("@aws-sdk/client-s3");
    const s3 = new sdk.S3Client({
      endpoint: options.endpoint,
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      forcePathStyle: options.pathStyle,
      maxAttempts: 3,
    });
    const storage = new S3Storage(s3, sdk, where, log);
    try {
      await s3.send(new sdk.ListObjectsV2Command({ Bucket: where.bucket, Prefix: storage.key("models/"), MaxKeys: 1 }));
    } catch (err) {
      s3.destroy();
      throw statusError(status.FAILED_PRECONDITION, `the model store ${storage.location} cannot be opened: ${storage.describe(err)}`);
    }
    return storage;
  }

  /**
   * Sends a command; an error that is not the caller's to handle (a status the
   * caller checks is passed through as the SDK raised it) becomes a status
   * naming the store: UNAVAILABLE for an unreachable server or a 5xx,
   * FAILED_PRECONDITION for refused credentials or a missing bucket.
   */
  private async send<T>(run: (s3: S3Client) => Promise<T>, key: string, pass: (err: unknown) => boolean = () => false): Promise<T> {
    try {
      return await run(this.s3);
    } catch (err) {
      if (pass(err)) throw err;
      const code = httpStatus(err);
      const name = errorName(err);
      const refused = code === 403 || code === 401 || name === "NoSuchBucket";
      throw statusError(
        refused ? status.FAILED_PRECONDITION : status.UNAVAILABLE,
        `the model store ${this.location} ${refused ? "refused" : "cannot be reached for"} ${key}: ${this.describe(err)}`,
      );
    }
  }

  private key(rest: string): string {
    return this.where.prefix ? `${this.where.prefix}/${rest}` : rest;
  }

  private pointerKey(name: string): string {
    return this.key(`models/${name}.json`);
  }

  /** An SDK error in words that name the store's object and say what to do, never a credential. */
  describe(err: unknown, key?: string): string {
    const what = key ? ` (${key})` : "";
    const code = httpStatus(err);
    const name = errorName(err);
    if (name === "NoSuchBucket") return `bucket '${this.where.bucket}' does not exist${what}`;
    if (code === 403 || name === "SignatureDoesNotMatch" || name === "InvalidAccessKeyId" || name === "AccessDenied") {
      return `access refused (${name}, HTTP 403)${what}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials, and the bucket policy`;
    }
    if (code) return `${name} (HTTP ${code})${what}`;
    const sys = (err as { code?: string }).code;
    return `${name}${sys ? ` ${sys}` : ""}${what}: ${(err as Error).message ?? String(err)}`.slice(0, 400);
  }

  async list(): Promise<ModelMeta[]> {
    const seen = new Map<string, string>();
    let token: string | undefined;
    const prefix = this.key("models/");
    do {
      const page = await this.send(
        (s3) => s3.send(new this.sdk.ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: prefix, ContinuationToken: token })),
        prefix,
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key?.endsWith(".json") || !o.ETag) continue;
        const name = o.Key.slice(prefix.length, -".json".length);
        if (!name.includes("/")) seen.set(name, o.ETag);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const out: ModelMeta[] = [];
    for (const [name, etag] of seen) {
      const known = this.pointers.get(name);
      const meta = known?.etag === etag ? known.meta : await this.read(name);
      if (meta) out.push(meta);
    }
    for (const name of [...this.pointers.keys()]) if (!seen.has(name)) this.pointers.delete(name);
    return out;
  }

  async read(name: string): Promise<ModelMeta | undefined> {
    const key = this.pointerKey(name);
    let body: string;
    let etag: string;
    try {
      const res = await this.send((s3) => s3.send(new this.sdk.GetObjectCommand({ Bucket: this.where.bucket, Key: key })), key, notFound);
      body = await res.Body!.transformToString("utf8");
      etag = res.ETag ?? "";
    } catch (err) {
      if (notFound(err)) {
        this.pointers.delete(name);
        return undefined;
      }
      throw err;
    }
    try {
      const meta = JSON.parse(body) as ModelMeta;
      if (meta.name !== name || !/^[0-9a-f]{64}$/.test(meta.sha256) || !Number.isSafeInteger(meta.sizeBytes))
        throw new Error("its name, sha256 or size is not what a pointer holds");
      this.pointers.set(name, { etag, meta });
      return meta;
    } catch (err) {
      this.log.error({ store: this.location, key, err: (err as Error).message }, "skipping an unreadable model pointer");
      return undefined;
    }
  }

  async putBlob(sha256: string, bytes: Buffer): Promise<void> {
    const key = this.key(`blobs/${sha256}`);
    const md5 = createHash("md5").update(bytes);
    const md5hex = md5.copy().digest("hex");
    try {
      // A single-part object's ETag is its MD5: the same bytes are there already. Anything else
      // under this name (a damaged or foreign object) is replaced by the content it must hold.
      const head = await this.send((s3) => s3.send(new this.sdk.HeadObjectCommand({ Bucket: this.where.bucket, Key: key })), key, notFound);
      if (head.ContentLength === bytes.length && head.ETag?.replace(/"/g, "") === md5hex) return;
      this.log.warn({ store: this.location, key }, "replacing a blob whose bytes are not the content its name says");
    } catch (err) {
      if (!notFound(err)) throw err;
    }
    await this.send(
      (s3) => s3.send(new this.sdk.PutObjectCommand({ Bucket: this.where.bucket, Key: key, Body: bytes, ContentMD5: md5.digest("base64") })),
      key,
    );
  }

  async getBlob(sha256: string): Promise<Buffer | undefined> {
    const key = this.key(`blobs/${sha256}`);
    try {
      const res = await this.send((s3) => s3.send(new this.sdk.GetObjectCommand({ Bucket: this.where.bucket, Key: key })), key, notFound);
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async commit(meta: ModelMeta, previous: ModelMeta | undefined): Promise<void> {
    let condition: { IfMatch: string } | { IfNoneMatch: string } = { IfNoneMatch: "*" };
    if (previous) {
      // Replace exactly the pointer the caller replaces: its ETag as this server read it (read again
      // if a poll dropped it meanwhile); another pointer there is a lost race, never a blind write.
      let known = this.pointers.get(meta.name);
      if (!known) {
        await this.read(meta.name);
        known = this.pointers.get(meta.name);
      }
      if (!known || known.meta.sha256 !== previous.sha256 || (known.meta.version ?? 1) !== (previous.version ?? 1))
        throw new CommitConflict(meta.name, !!known);
      condition = { IfMatch: known.etag };
    }
    const key = this.pointerKey(meta.name);
    try {
      const res = await this.send(
        (s3) =>
          s3.send(
            new this.sdk.PutObjectCommand({
              Bucket: this.where.bucket,
              Key: key,
              Body: JSON.stringify(meta, null, 2),
              ContentType: "application/json",
              ...condition,
            }),
          ),
        key,
        lostRace,
      );
      this.pointers.set(meta.name, { etag: res.ETag ?? "", meta });
    } catch (err) {
      if (lostRace(err)) throw new CommitConflict(meta.name, !previous);
      throw err;
    }
  }

  /** Removes the pointer, whoever wrote it last (S3's conditional delete is not served by every S3-compatible server): a delete wins over a concurrent save. */
  async remove(name: string): Promise<void> {
    await this.send((s3) => s3.send(new this.sdk.DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.pointerKey(name) })), this.pointerKey(name));
    this.pointers.delete(name);
  }

  async deleteBlob(): Promise<void> {
    // Never on a shared store: another server may be committing a pointer to this blob.
  }

  close(): void {
    this.s3.destroy();
  }
}
