/**
 * The store's byte I/O, behind one small interface: content-addressed blobs
 * (immutable, named by their SHA-256) and one pointer per model name (its
 * metadata, which names the blob). ModelStore keeps the index, the cache and
 * the per-name locks above it; a backend only moves bytes. Today's backend is
 * the disk folder (disk.ts); an object store is a second implementation of
 * the same five operations.
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
  /** ISO 8601. */
  createdAt: string;
  parameters: Record<string, string>;
  metrics: Record<string, number>;
  labels: string[];
  featureNames: string[];
  /** CRF: the template CSV prediction builds attributes with. */
  featureTemplate?: CrfFeatureTemplate;
}

/** One backend of the model store. Every method may throw the backend's I/O errors. */
export interface ModelStorage {
  /** Where the models live, for logs and errors (a folder, a URL). */
  readonly location: string;
  /** The committed pointers: every model's metadata (unreadable entries are logged and skipped). */
  list(): Promise<ModelMeta[]>;
  /** Stores a blob under its SHA-256; idempotent (an existing blob of that size is kept). */
  putBlob(sha256: string, bytes: Buffer): Promise<void>;
  /** A blob's bytes, or undefined when there is no such blob. */
  getBlob(sha256: string): Promise<Buffer | undefined>;
  /**
   * Makes `meta` the model served under `meta.name`, atomically: a reader sees
   * the old pointer or the new one, never a mix. `previous` is the pointer the
   * caller replaces (undefined: none), for backends that check it.
   */
  commit(meta: ModelMeta, previous: ModelMeta | undefined): Promise<void>;
  /** Removes a name's pointer (its blob stays until deleteBlob). */
  remove(name: string): Promise<void>;
  /** Removes a blob no pointer names; missing is fine. */
  deleteBlob(sha256: string): Promise<void>;
  /** Releases what the backend holds (locks, connections). */
  close(): void;
}
