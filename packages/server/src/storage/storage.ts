/**
 * The store's byte I/O, behind one small interface: content-addressed blobs
 * (immutable, named by their SHA-256) and one pointer per model name (its
 * metadata, which names the blob). ModelStore keeps the index, the cache and
 * the per-name locks above it; a backend only moves bytes. Today's backend is
 * the disk folder (disk.ts); S3-compatible object storage (s3.ts) is the
 * second, shared by several servers.
 */
import type { CrfFeatureTemplate } from "@mlbridge/core";

/** A stored model's kind: the name of the runtime that serves it (core's ModelRuntime.kind). */
export type ModelKindName = string;

/** What the store keeps about a model, beside its bytes (the pointer's content). */
export interface ModelMeta {
  name: string;
  kind: ModelKindName;
  /** The runtime's stored format, e.g. `crfsuite` or `xgboost-ubj`. */
  format: string;
  sha256: string;
  sizeBytes: number;
  /** The model's version: 1 for the first stored under its name, one more at each replacement. Absent in stores written before versions (read as 1). */
  version?: number;
  /** ISO 8601. */
  createdAt: string;
  parameters: Record<string, string>;
  metrics: Record<string, number>;
  labels: string[];
  featureNames: string[];
  /** CRF: the template CSV prediction builds attributes with. */
  featureTemplate?: CrfFeatureTemplate;
}

/**
 * A commit lost to another writer: the name's pointer is not the one the
 * caller replaced (`exists`: the caller replaced none, and there is one now).
 */
export class CommitConflict extends Error {
  constructor(
    readonly modelName: string,
    readonly exists: boolean,
  ) {
    super(`model '${modelName}' was stored by another server meanwhile`);
  }
}

/** One backend of the model store. Every method may throw the backend's I/O errors. */
export interface ModelStorage {
  /** Where the models live, for logs and errors (a folder, a URL). */
  readonly location: string;
  /**
   * Whether other servers write here too: the store then polls list() for
   * their changes, reads a name it does not know before answering NOT_FOUND,
   * and leaves blobs in place (another server may commit a pointer to one).
   */
  readonly shared: boolean;
  /** One name's pointer, or undefined when there is none (the miss path of a shared store). */
  read(name: string): Promise<ModelMeta | undefined>;
  /** The committed pointers: every model's metadata (unreadable entries are logged and skipped). */
  list(): Promise<ModelMeta[]>;
  /** Stores a blob under its SHA-256; idempotent (an existing blob of that size is kept). */
  putBlob(sha256: string, bytes: Buffer): Promise<void>;
  /** A blob's bytes, or undefined when there is no such blob. */
  getBlob(sha256: string): Promise<Buffer | undefined>;
  /**
   * Makes `meta` the model served under `meta.name`, atomically: a reader sees
   * the old pointer or the new one, never a mix. `previous` is the pointer the
   * caller replaces (undefined: none); a shared backend commits only if it is
   * still the current one.
   * @throws CommitConflict when another server committed meanwhile
   */
  commit(meta: ModelMeta, previous: ModelMeta | undefined): Promise<void>;
  /** Removes a name's pointer (its blob stays until deleteBlob). */
  remove(name: string): Promise<void>;
  /** Removes a blob no pointer names; missing is fine. */
  deleteBlob(sha256: string): Promise<void>;
  /** Releases what the backend holds (locks, connections). */
  close(): void;
}
