import { binding } from "./binding";
import { MlBridgeError } from "./errors";

/** An exclusive OS lock on a file (flock), held until `release()` or the process ends. */
export interface FileLock {
  readonly path: string;
  /** Releases the lock (closes its descriptor). Idempotent. */
  release(): void;
}

/**
 * Takes an exclusive lock on `file` (created if missing) without waiting. The
 * kernel drops it when the process ends, however it ends, so a crash never
 * leaves a stale lock. Any other open of the file, in this process or
 * another, is refused while it is held.
 * @throws MlBridgeError with code LOCKED when another holder has it, LOCK_FAILED
 *   when the file cannot be opened or locked.
 */
export function lockFile(file: string): FileLock {
  let fd: number;
  try {
    fd = binding().lockFile(file);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new MlBridgeError(e.code === "LOCKED" ? "LOCKED" : "LOCK_FAILED", e.message ?? String(err), { cause: err });
  }
  let held = true;
  return {
    path: file,
    release() {
      if (!held) return;
      held = false;
      binding().unlockFile(fd);
    },
  };
}
