/**
 * Error classes with a stable `code`. The server maps codes to gRPC statuses
 * in one place (packages/server/src/errors.ts); nothing else inspects messages.
 */

/** Stable error codes of mlbridge's core. */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "RESOURCE_EXHAUSTED"
  | "CANCELLED"
  | "UNAUTHENTICATED"
  | "INTERNAL"
  | "XGBOOST_ERROR"
  | "CRFSUITE_ERROR"
  | "DISPOSED"
  | "NATIVE_NOT_BUILT"
  | "LOCKED"
  | "LOCK_FAILED";

/** An error raised by mlbridge with a stable `code`. */
export class MlBridgeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MlBridgeError";
    this.code = code;
  }
}

/** Invalid input: a bad argument, a malformed file, an unknown parameter. */
export class InvalidInputError extends MlBridgeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
    this.name = "InvalidInputError";
  }
}

/** The operation was cancelled by its caller (AbortSignal). */
export class CancelledError extends MlBridgeError {
  constructor(message = "operation cancelled") {
    super("CANCELLED", message);
    this.name = "CancelledError";
  }
}

/** Formats a value for an error message: type and a short rendering. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as Uint8Array).length}`;
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (typeof value === "number") return `number ${value}`;
  return typeof value;
}

/** Builds the error for an argument that is not what it should be. */
export function invalidArgument(name: string, expected: string, actual: unknown): InvalidInputError {
  return new InvalidInputError(`${name}: expected ${expected}, got ${describe(actual)}`);
}

/**
 * Rethrows a native error on an Error captured at the call site, so that the
 * stack points at the caller, keeping the addon's `code`.
 */
export function rethrowNative(err: unknown, site: Error): never {
  const e = err as { code?: string; message?: string };
  const code = (e && typeof e.code === "string" ? e.code : "INTERNAL") as ErrorCode;
  const wrapped = new MlBridgeError(code, e?.message ?? String(err), { cause: err });
  wrapped.stack = `${wrapped.name} [${code}]: ${wrapped.message}\n${(site.stack ?? "").split("\n").slice(1).join("\n")}`;
  throw wrapped;
}

/** Runs `fn`, rethrowing native errors with the caller's stack. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    rethrowNative(err, new Error());
  }
}

/** Awaits a native promise, rethrowing its rejection with the caller's stack. */
export async function awaitNative<T>(promise: Promise<T>): Promise<T> {
  const site = new Error();
  try {
    return await promise;
  } catch (err) {
    rethrowNative(err, site);
  }
}
