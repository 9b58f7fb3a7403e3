import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { CrfModel, lockFile, XgbModel, type CrfFeatureTemplate, type FileLock } from "@mlbridge/core";
import type { Logger } from "pino";
import { statusError } from "./errors";

/** Kinds of stored models. */
export type ModelKindName = "crf" | "xgboost";

/** What the store keeps about a model, beside its bytes. */
export interface ModelMeta {
  name: string;
  kind: ModelKindName;
  /** `crfsuite` or `xgboost-ubj`. */
  format: string;
  sha256: string;
  sizeBytes: number;
  /** ISO 8601. */
  createdAt: string;
  parameters: Record<string, string>;
  metrics: Record<string, number>;
  labels: string[];
  featureNames: string[];
  /** CRF: the template CSV prediction builds attributes with. */
  featureTemplate?: CrfFeatureTemplate;
}

/** A model loaded in memory. */
export type LoadedModel = { meta: ModelMeta; kind: "crf"; model: CrfModel } | { meta: ModelMeta; kind: "xgboost"; model: XgbModel };

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a model name: 1–128 characters of letters, digits, `.`, `_`, `-`, not
 * starting with `.` (so never `..`, never a path).
 */
export function checkModelName(name: unknown, field = "model_name"): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    const shown = typeof name === "string" ? JSON.stringify(name.length > 40 ? name.slice(0, 40) + "…" : name) : typeof name;
    throw statusError(
      status.INVALID_ARGUMENT,
      `${field}: ${shown} is not a valid model name (1 to 128 letters, digits, '.', '_' or '-', not starting with '.')`,
    );
  }
  return name;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes `data` to `file` atomically: temp file in `tmpDir`, fsync, rename, fsync the folder. */
async function writeAtomic(tmpDir: string, file: string, data: Buffer | string): Promise<void> {
  const tmp = path.join(tmpDir, `${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const h = await open(tmp, "wx", 0o600);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, file);
    await fsyncDir(path.dirname(file));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Builds the in-memory model from stored bytes. */
function instantiate(meta: ModelMeta, bytes: Buffer): LoadedModel {
  if (meta.kind === "crf") return { meta, kind: "crf", model: CrfModel.fromBuffer(bytes) };
  return { meta, kind: "xgboost", model: XgbModel.fromBuffer(bytes) };
}

/**
 * The model store: one metadata file per model (`models/<name>.json`, the
 * commit point) pointing at a content-addressed blob (`blobs/<sha256>`).
 * Every write goes through a temp file, fsync and rename, so a crash leaves
 * either the old or the new model, never a half-written one. Loaded models
 * are kept in an LRU cache and shared by concurrent requests.
 */
export class ModelStore {
  private readonly index = new Map<string, ModelMeta>();
  private readonly cache = new Map<string, LoadedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly modelsDir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;

  private constructor(
    readonly dir: string,
    private readonly cacheSize: number,
    private readonly log: Logger,
    private readonly lock: FileLock,
  ) {
    this.modelsDir = path.join(dir, "models");
    this.blobsDir = path.join(dir, "blobs");
    this.tmpDir = path.join(dir, "tmp");
  }

  /**
   * Opens (creating if needed) a store, clearing leftovers of an interrupted
   * write. The store's folder is locked (an OS lock on `<dir>/LOCK`, held until
   * close() or the process ends): one server per folder, because each one's
   * cleanup and deletes count only the models it knows.
   * @throws FAILED_PRECONDITION naming the folder and the holder's pid when another server has it
   */
  static async open(dir: string, options: { cacheSize: number; log: Logger }): Promise<ModelStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lockPath = path.join(dir, "LOCK");
    let lock: FileLock;
    try {
      lock = lockFile(lockPath);
    } catch (err) {
      if ((err as { code?: string }).code !== "LOCKED") throw err;
      const holder = (await readFile(lockPath, "utf8").catch(() => "")).trim();
      throw statusError(
        status.FAILED_PRECONDITION,
        `the model store ${dir} is in use by another mlbridge server (pid ${/^\d+$/.test(holder) ? holder : "unknown"}): ` +
          "two servers on one folder would delete each other's models; stop that server, or give this one another --model-dir",
      );
    }
    try {
      await writeFile(lockPath, `${process.pid}\n`);
      const store = new ModelStore(dir, options.cacheSize, options.log, lock);
      await store.recover();
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Runs under the folder's lock: nothing else writes here while it removes leftovers. */
  private async recover(): Promise<void> {
    for (const d of [this.modelsDir, this.blobsDir, this.tmpDir]) await mkdir(d, { recursive: true, mode: 0o700 });
    const leftovers = await readdir(this.tmpDir);
    for (const f of leftovers) await rm(path.join(this.tmpDir, f), { force: true, recursive: true });
    if (leftovers.length) this.log.warn({ files: leftovers }, "removed the temp files of interrupted writes");
    for (const f of await readdir(this.modelsDir)) {
      if (!f.endsWith(".json")) continue;
      const file = path.join(this.modelsDir, f);
      try {
        const meta = JSON.parse(await readFile(file, "utf8")) as ModelMeta;
        const st = await stat(path.join(this.blobsDir, meta.sha256));
        if (st.size !== meta.sizeBytes || `${meta.name}.json` !== f) throw new Error("blob size or name does not match");
        this.index.set(meta.name, meta);
      } catch (err) {
        this.log.error({ file, err: (err as Error).message }, "skipping an unreadable model entry");
      }
    }
    const used = new Set([...this.index.values()].map((m) => m.sha256));
    for (const b of await readdir(this.blobsDir)) {
      if (used.has(b)) continue;
      await rm(path.join(this.blobsDir, b), { force: true });
      this.log.warn({ blob: b }, "removed a model blob that no model names (left by an interrupted save or delete)");
    }
    this.log.info({ dir: this.dir, models: this.index.size }, "model store opened");
  }

  /** Stored models, sorted by name, optionally of one kind. */
  list(kind?: ModelKindName): ModelMeta[] {
    return [...this.index.values()].filter((m) => !kind || m.kind === kind).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A model's metadata. @throws NOT_FOUND */
  meta(name: string): ModelMeta {
    const m = this.index.get(checkModelName(name));
    if (!m) throw statusError(status.NOT_FOUND, `model '${name}' not found`);
    return m;
  }

  /** Whether a model exists. */
  has(name: string): boolean {
    return this.index.has(name);
  }

  /** Number of models loaded in memory. */
  get loadedCount(): number {
    return this.cache.size;
  }

  /** Stored size of the models loaded in memory, bytes. */
  get loadedBytes(): number {
    let n = 0;
    for (const entry of this.cache.values()) n += entry.meta.sizeBytes;
    return n;
  }

  /** A model's stored bytes, checked against its checksum. */
  async bytes(name: string): Promise<Buffer> {
    const meta = this.meta(name);
    const data = await readFile(path.join(this.blobsDir, meta.sha256)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
      this.log.error({ model: name, blob: meta.sha256 }, "a stored model's blob is missing");
      throw statusError(status.DATA_LOSS, `model '${name}' is missing its stored bytes (blob ${meta.sha256.slice(0, 12)}…)`);
    });
    const sha = createHash("sha256").update(data).digest("hex");
    if (sha !== meta.sha256) throw statusError(status.DATA_LOSS, `model '${name}' is corrupt on disk (checksum mismatch)`);
    return data;
  }

  /**
   * The model, loaded in memory (from the cache, or read once from disk).
   * @throws NOT_FOUND, or FAILED_PRECONDITION when it is of another kind than `kind`
   */
  async load(name: string, kind?: ModelKindName): Promise<LoadedModel> {
    const meta = this.meta(name);
    if (kind && meta.kind !== kind) {
      throw statusError(status.FAILED_PRECONDITION, `model '${name}' is a ${meta.kind} model, not ${kind}`);
    }
    const hit = this.cache.get(name);
    if (hit && hit.meta === meta) {
      this.cache.delete(name); // LRU: move to the end
      this.cache.set(name, hit);
      return hit;
    }
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.bytes(name).then((data) => {
        const loaded = instantiate(meta, data);
        if (this.index.get(name) === meta) this.remember(loaded);
        return loaded;
      });
      this.loading.set(name, pending);
      void pending.finally(() => this.loading.delete(name)).catch(() => undefined);
    }
    return pending;
  }

  /** The cached model of `name`, or undefined (no disk access): the fast path of predictions. */
  cached(name: string): LoadedModel | undefined {
    const hit = this.cache.get(name);
    return hit && hit.meta === this.index.get(name) ? hit : undefined;
  }

  /**
   * Drops a model from the memory cache, keeping it on disk: the next request
   * loads it again. Predictions running on it finish first (the addon defers
   * the free). @returns whether it was loaded. @throws NOT_FOUND
   */
  evict(name: string): boolean {
    this.meta(name);
    const hit = this.cache.get(name);
    if (!hit) return false;
    this.cache.delete(name);
    hit.model.dispose();
    return true;
  }

  private remember(loaded: LoadedModel): void {
    const old = this.cache.get(loaded.meta.name);
    this.cache.delete(loaded.meta.name);
    if (old && old.model !== loaded.model) old.model.dispose(); // the addon defers the free while in use
    this.cache.set(loaded.meta.name, loaded);
    while (this.cache.size > this.cacheSize) {
      const [oldest, entry] = this.cache.entries().next().value as [string, LoadedModel];
      this.cache.delete(oldest);
      entry.model.dispose();
    }
  }

  /** Runs `fn` holding the name's lock: writes to one name are serialised. */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    this.locks.set(name, chained);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(name) === chained) this.locks.delete(name);
    }
  }

  /**
   * Stores a model atomically and makes it the one served for its name. The
   * caller holds the name's lock. `loaded` is the already-built in-memory
   * model, which goes into the cache.
   */
  async save(
    fields: Omit<ModelMeta, "sha256" | "sizeBytes" | "createdAt">,
    bytes: Buffer,
    model: CrfModel | XgbModel,
  ): Promise<ModelMeta> {
    checkModelName(fields.name);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const meta: ModelMeta = { ...fields, sha256, sizeBytes: bytes.length, createdAt: new Date().toISOString() };
    const blob = path.join(this.blobsDir, sha256);
    const exists = await stat(blob).then(
      (s) => s.size === bytes.length,
      () => false,
    );
    if (!exists) await writeAtomic(this.tmpDir, blob, bytes);
    await writeAtomic(this.tmpDir, path.join(this.modelsDir, `${meta.name}.json`), JSON.stringify(meta, null, 2));
    const old = this.index.get(meta.name);
    this.index.set(meta.name, meta);
    this.remember({ meta, kind: meta.kind, model } as LoadedModel);
    if (old && old.sha256 !== sha256) await this.collect(old.sha256);
    return meta;
  }

  /** Deletes a model from disk and memory. @throws NOT_FOUND */
  async delete(name: string): Promise<void> {
    const meta = this.meta(name);
    await unlink(path.join(this.modelsDir, `${name}.json`));
    await fsyncDir(this.modelsDir);
    this.index.delete(name);
    const cached = this.cache.get(name);
    this.cache.delete(name);
    cached?.model.dispose();
    await this.collect(meta.sha256);
  }

  private async collect(sha: string): Promise<void> {
    for (const m of this.index.values()) if (m.sha256 === sha) return;
    await rm(path.join(this.blobsDir, sha), { force: true });
  }

  /** Frees every loaded model and releases the folder's lock. */
  close(): void {
    for (const entry of this.cache.values()) entry.model.dispose();
    this.cache.clear();
    this.lock.release();
  }
}
