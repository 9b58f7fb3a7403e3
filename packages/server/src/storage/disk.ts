import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { lockFile, type FileLock } from "@mlbridge/core";
import type { Logger } from "pino";
import { statusError } from "../errors";
import type { ModelMeta, ModelStorage } from "./storage";

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

/**
 * The store on a local folder: `models/<name>.json` (the pointer, the commit
 * point) naming a content-addressed blob `blobs/<sha256>`. Every write goes
 * through a temp file, fsync and rename, so a crash leaves either the old or
 * the new model, never a half-written one. The folder is locked (an OS lock
 * on `<dir>/LOCK`, held until close() or the process ends): one server per
 * folder, because each one's cleanup and deletes count only the models it knows.
 */
export class DiskStorage implements ModelStorage {
  readonly shared = false;
  private readonly modelsDir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;

  private constructor(
    readonly location: string,
    private readonly log: Logger,
    private readonly lock: FileLock,
  ) {
    this.modelsDir = path.join(location, "models");
    this.blobsDir = path.join(location, "blobs");
    this.tmpDir = path.join(location, "tmp");
  }

  /**
   * Opens (creating if needed) the folder and locks it, clearing the temp
   * files of interrupted writes and the blobs no model names.
   * @throws FAILED_PRECONDITION naming the folder and the holder's pid when another server has it
   */
  static async open(dir: string, log: Logger): Promise<DiskStorage> {
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
      const storage = new DiskStorage(dir, log, lock);
      await storage.recover();
      return storage;
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
    const used = new Set((await this.list()).map((m) => m.sha256));
    for (const b of await readdir(this.blobsDir)) {
      if (used.has(b)) continue;
      await rm(path.join(this.blobsDir, b), { force: true });
      this.log.warn({ blob: b }, "removed a model blob that no model names (left by an interrupted save or delete)");
    }
  }

  async list(): Promise<ModelMeta[]> {
    const out: ModelMeta[] = [];
    for (const f of await readdir(this.modelsDir)) {
      if (!f.endsWith(".json")) continue;
      const meta = await this.entry(f);
      if (meta) out.push(meta);
    }
    return out;
  }

  /** The pointer in `models/<file>`, checked against its blob; undefined (logged) when unreadable. */
  private async entry(f: string): Promise<ModelMeta | undefined> {
    const file = path.join(this.modelsDir, f);
    try {
      const meta = JSON.parse(await readFile(file, "utf8")) as ModelMeta;
      const st = await stat(path.join(this.blobsDir, meta.sha256));
      if (st.size !== meta.sizeBytes || `${meta.name}.json` !== f) throw new Error("blob size or name does not match");
      return meta;
    } catch (err) {
      this.log.error({ file, err: (err as Error).message }, "skipping an unreadable model entry");
      return undefined;
    }
  }

  async read(name: string): Promise<ModelMeta | undefined> {
    const exists = await stat(path.join(this.modelsDir, `${name}.json`)).then(
      () => true,
      () => false,
    );
    return exists ? this.entry(`${name}.json`) : undefined;
  }

  async putBlob(sha256: string, bytes: Buffer): Promise<void> {
    const blob = path.join(this.blobsDir, sha256);
    const exists = await stat(blob).then(
      (s) => s.size === bytes.length,
      () => false,
    );
    if (!exists) await writeAtomic(this.tmpDir, blob, bytes);
  }

  async getBlob(sha256: string): Promise<Buffer | undefined> {
    return readFile(path.join(this.blobsDir, sha256)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
  }

  async commit(meta: ModelMeta): Promise<void> {
    await writeAtomic(this.tmpDir, path.join(this.modelsDir, `${meta.name}.json`), JSON.stringify(meta, null, 2));
  }

  async remove(name: string): Promise<void> {
    await unlink(path.join(this.modelsDir, `${name}.json`));
    await fsyncDir(this.modelsDir);
  }

  async deleteBlob(sha256: string): Promise<void> {
    await rm(path.join(this.blobsDir, sha256), { force: true });
  }

  close(): void {
    this.lock.release();
  }
}
