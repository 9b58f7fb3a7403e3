import { createHash } from "node:crypto";
import { status } from "@grpc/grpc-js";
import type { ModelRuntime, RuntimeModel, RuntimeRegistry } from "@mlbridge/core";
import type { Logger } from "pino";
import { statusError } from "./errors";
import { CommitConflict, type ModelKindName, type ModelMeta, type ModelStorage } from "./storage/storage";

export type { ModelKindName, ModelMeta } from "./storage/storage";

/** What the store did when its backend failed (the label of mlbridge_store_errors_total). */
export type StoreOperation = "read" | "write" | "delete";

/** A model loaded in memory, with its runtime. */
export interface LoadedModel<M extends RuntimeModel = RuntimeModel> {
  meta: ModelMeta;
  runtime: ModelRuntime<M>;
  model: M;
}

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

/**
 * The model store: the index of stored models (name → metadata), the LRU cache
 * of loaded models shared by concurrent requests, and the per-name write
 * locks, over a ModelStorage backend that moves the bytes (storage/disk.ts:
 * the --model-dir folder). Blobs are content-addressed and checked against
 * their SHA-256 when read; a name's pointer is committed after its blob, so a
 * crash leaves either the old or the new model, never a half-written one.
 */
export class ModelStore {
  private readonly index = new Map<string, ModelMeta>();
  private readonly cache = new Map<string, LoadedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  /** Per name, how many saves and deletes this server started: a poll listed before one of them does not apply to the name. */
  private readonly writes = new Map<string, number>();
  private readonly locks = new Map<string, Promise<void>>();

  private constructor(
    private readonly storage: ModelStorage,
    /** The runtime of each model kind: the only place the store learns about kinds. */
    readonly runtimes: RuntimeRegistry,
    private readonly cacheSize: number,
    private readonly log: Logger,
    private readonly onError: (operation: StoreOperation) => void,
  ) {}

  /**
   * Opens a store over `storage`, reading its index. `onError` is told of
   * each failed backend operation (the store errors metric).
   */
  static async open(
    storage: ModelStorage,
    options: { runtimes: RuntimeRegistry; cacheSize: number; log: Logger; onError?: (operation: StoreOperation) => void },
  ): Promise<ModelStore> {
    const store = new ModelStore(storage, options.runtimes, options.cacheSize, options.log, options.onError ?? (() => undefined));
    for (const meta of await storage.list()) if (store.servable(meta)) store.index.set(meta.name, meta);
    options.log.info({ store: storage.location, models: store.index.size }, "model store opened");
    return store;
  }

  /** Where the models live (a folder, a URL). */
  get location(): string {
    return this.storage.location;
  }

  /** Whether other servers share the store (see ModelStorage.shared). */
  get shared(): boolean {
    return this.storage.shared;
  }

  /** Whether a runtime serves the model's kind; logs the model otherwise. */
  private servable(meta: ModelMeta): boolean {
    if (this.runtimes.has(meta.kind)) return true;
    this.log.error(
      { model: meta.name, kind: meta.kind, known: this.runtimes.kinds() },
      "skipping a stored model of a kind no runtime serves (its bytes are kept)",
    );
    return false;
  }

  /**
   * Reads the shared store's pointers and takes in what other servers changed:
   * new and replaced models (the next request loads the new version), deleted
   * ones (dropped from memory). @returns how many names changed
   */
  async refresh(): Promise<number> {
    const before = new Map(this.writes);
    const metas = await this.io("read", () => this.storage.list());
    // A name this server wrote (or is writing) since the listing began settles itself: the listing may predate it.
    const settled = (name: string) => (this.writes.get(name) ?? 0) !== (before.get(name) ?? 0) || this.saving.has(name);
    const seen = new Set<string>();
    let changed = 0;
    for (const meta of metas) {
      seen.add(meta.name);
      const known = this.index.get(meta.name);
      if (known && known.sha256 === meta.sha256 && (known.version ?? 1) === (meta.version ?? 1)) continue;
      if (settled(meta.name)) continue;
      if (!this.servable(meta)) {
        // Replaced by a model of a kind this server does not serve: the old one must not stay served.
        if (known) {
          this.forget(meta.name);
          changed++;
        }
        continue;
      }
      this.index.set(meta.name, meta);
      changed++;
      this.log.info({ model: meta.name, version: meta.version ?? 1 }, "model changed in the shared store");
    }
    for (const name of [...this.index.keys()]) {
      if (seen.has(name) || settled(name)) continue;
      this.forget(name);
      changed++;
      this.log.info({ model: name }, "model deleted in the shared store");
    }
    return changed;
  }

  /** Names being saved or deleted by this server now. */
  private readonly saving = new Set<string>();

  /** Runs a save or delete of `name`, marked for refresh(). */
  private async writing<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
    this.saving.add(name);
    try {
      return await fn();
    } finally {
      this.saving.delete(name);
      this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
    }
  }

  /** Takes in one name's pointer from a shared store (a miss, or after losing a commit). */
  private async readName(name: string): Promise<ModelMeta | undefined> {
    const meta = await this.io("read", () => this.storage.read(name));
    if (meta && this.servable(meta)) this.index.set(name, meta);
    else this.forget(name);
    return meta && this.index.get(name);
  }

  private forget(name: string): void {
    this.index.delete(name);
    const cached = this.cache.get(name);
    this.cache.delete(name);
    cached?.model.dispose();
  }

  /** Runs a backend operation, counting its failure. */
  private async io<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.onError(operation);
      throw err;
    }
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

  /**
   * Checks a caller's pinned version (0: the current one, whatever it is).
   * @throws NOT_FOUND naming the current version when the pinned one is not it
   */
  checkVersion(meta: ModelMeta, version: number, field = "model_version"): void {
    const current = meta.version ?? 1;
    if (version && version !== current) {
      throw statusError(
        status.NOT_FOUND,
        `${field}: model '${meta.name}' is at version ${current}; version ${version} is not served (0 takes the current one)`,
      );
    }
  }

  /** @throws ALREADY_EXISTS when `failIfExists` and the model exists (checked before the upload and again under the name's lock) */
  refuseExisting(name: string, failIfExists: boolean): void {
    if (failIfExists && this.index.has(name)) throw statusError(status.ALREADY_EXISTS, `model '${name}' already exists`);
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
    return this.bytesOf(this.meta(name));
  }

  /** The stored bytes of the model version `meta` describes, checked against its checksum. */
  private bytesOf(meta: ModelMeta): Promise<Buffer> {
    const name = meta.name;
    return this.io("read", async () => {
      const data = await this.storage.getBlob(meta.sha256);
      if (!data) {
        this.log.error({ model: name, blob: meta.sha256 }, "a stored model's blob is missing");
        throw statusError(status.DATA_LOSS, `model '${name}' is missing its stored bytes (blob ${meta.sha256.slice(0, 12)}…)`);
      }
      const sha = createHash("sha256").update(data).digest("hex");
      if (sha !== meta.sha256) throw statusError(status.DATA_LOSS, `model '${name}' is corrupt in the store (checksum mismatch)`);
      return data;
    });
  }

  /**
   * The model, loaded in memory (from the cache, or read once from disk).
   * @throws NOT_FOUND, or FAILED_PRECONDITION when it is of another kind than `kind`
   */
  /**
   * A model's metadata; on a shared store, a name this server has not polled
   * yet is read from the store before the answer is NOT_FOUND. @throws NOT_FOUND
   */
  async find(name: string): Promise<ModelMeta> {
    if (this.storage.shared && !this.index.has(checkModelName(name))) await this.readName(name);
    return this.meta(name);
  }

  async load<M extends RuntimeModel = RuntimeModel>(name: string, runtime?: ModelRuntime<M>): Promise<LoadedModel<M>> {
    const meta = await this.find(name);
    if (runtime) this.checkKind(meta, runtime);
    const hit = this.cache.get(name);
    if (hit && hit.meta === meta) {
      this.cache.delete(name); // LRU: move to the end
      this.cache.set(name, hit);
      return hit as LoadedModel<M>;
    }
    // One load per version at a time: callers of another version never share it.
    const key = `${name}@${meta.sha256}@${meta.version ?? 1}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.bytesOf(meta).then((data) => {
        const r = this.runtimes.get(meta.kind);
        const loaded: LoadedModel = { meta, runtime: r, model: r.load(data) };
        if (this.index.get(name) === meta) this.remember(loaded);
        return loaded;
      });
      this.loading.set(key, pending);
      void pending.finally(() => this.loading.delete(key)).catch(() => undefined);
    }
    return pending as Promise<LoadedModel<M>>;
  }

  /** @throws FAILED_PRECONDITION when `meta` is not of `runtime`'s kind */
  checkKind(meta: ModelMeta, runtime: { kind: string }): void {
    if (meta.kind !== runtime.kind) throw statusError(status.FAILED_PRECONDITION, `model '${meta.name}' is a ${meta.kind} model, not ${runtime.kind}`);
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
  save(
    fields: Omit<ModelMeta, "sha256" | "sizeBytes" | "createdAt" | "version">,
    bytes: Buffer,
    model: RuntimeModel,
    options: { failIfExists?: boolean } = {},
  ): Promise<ModelMeta> {
    return this.writing(checkModelName(fields.name), () => this.saveNow(fields, bytes, model, options));
  }

  private async saveNow(
    fields: Omit<ModelMeta, "sha256" | "sizeBytes" | "createdAt" | "version">,
    bytes: Buffer,
    model: RuntimeModel,
    options: { failIfExists?: boolean },
  ): Promise<ModelMeta> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    // On a shared store, the pointer as it is now (not as last polled): the version to follow and
    // the ETag to replace; and another server's model of this name counts for fail_if_exists.
    if (this.storage.shared) await this.readName(fields.name);
    const old = this.index.get(fields.name);
    this.refuseExisting(fields.name, options.failIfExists ?? false);
    const meta: ModelMeta = { ...fields, sha256, sizeBytes: bytes.length, version: old ? (old.version ?? 1) + 1 : 1, createdAt: new Date().toISOString() };
    try {
      await this.io("write", async () => {
        await this.storage.putBlob(sha256, bytes);
        await this.storage.commit(meta, old);
      });
    } catch (err) {
      if (!(err instanceof CommitConflict)) throw err;
      // Another server stored this name meanwhile: serve its version, and say so.
      const winner = await this.readName(fields.name).catch(() => undefined);
      const theirs = winner ? ` (its version ${winner.version ?? 1} is served now)` : "";
      if (err.exists && options.failIfExists)
        throw statusError(status.ALREADY_EXISTS, `model '${fields.name}' already exists: another server stored it meanwhile${theirs}`);
      throw statusError(
        status.ABORTED,
        `model '${fields.name}' was stored by another server while this one worked on it${theirs}; nothing of this one was stored: retry to replace it`,
      );
    }
    this.index.set(meta.name, meta);
    this.remember({ meta, runtime: this.runtimes.get(meta.kind), model });
    if (old && old.sha256 !== sha256) await this.collect(old.sha256);
    return meta;
  }

  /** Deletes a model from disk and memory. @throws NOT_FOUND */
  async delete(name: string): Promise<void> {
    const meta = await this.find(name);
    await this.writing(name, async () => {
      await this.io("delete", () => this.storage.remove(name));
      this.forget(name);
    });
    await this.collect(meta.sha256);
  }

  /** Removes a blob no model names any more; a failure is logged and counted, never thrown (the commit it follows stands). */
  private async collect(sha: string): Promise<void> {
    for (const m of this.index.values()) if (m.sha256 === sha) return;
    await this.io("delete", () => this.storage.deleteBlob(sha)).catch((err: Error) =>
      this.log.warn({ blob: sha, err: err.message }, "could not remove an unused model blob (it is removed at the next start)"),
    );
  }

  /** Frees every loaded model and releases the backend (the folder's lock). */
  close(): void {
    for (const entry of this.cache.values()) entry.model.dispose();
    this.cache.clear();
    this.storage.close();
  }
}
