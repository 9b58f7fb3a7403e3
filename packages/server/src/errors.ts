import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { MlBridgeError, type ErrorCode } from "@mlbridge/core";
import type { Logger } from "pino";

/** A gRPC status with details, as handlers reject with it. */
export type StatusError = Partial<ServiceError> & { code: status; details: string };

const CODES: Partial<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  CANCELLED: status.CANCELLED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  // Library errors reaching a handler come from user data or parameters
  // (e.g. a model file the library rejects): the caller's to fix.
  XGBOOST_ERROR: status.INVALID_ARGUMENT,
  CRFSUITE_ERROR: status.INVALID_ARGUMENT,
};

/** The longest status message sent: a trailer and a log line stay small whatever the input echoed in them. */
export const MAX_DETAILS = 1024;

/** A value of the caller's for a message: cut to `max` characters, saying its length. */
export function clip(value: unknown, max = 64): string {
  const s = typeof value === "string" ? value : String(value);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/** A value of the caller's, quoted for a message: JSON, cut to `max` characters with the length said. */
export { quoted as quote } from "@mlbridge/core";

/** An error to answer with a given gRPC status; details longer than MAX_DETAILS are cut, saying so. */
export function statusError(code: status, message: string): StatusError {
  const details = message.length > MAX_DETAILS ? `${message.slice(0, MAX_DETAILS)}… (message cut at ${MAX_DETAILS} of ${message.length} characters)` : message;
  const e = new Error(details) as Error & StatusError;
  e.code = code;
  e.details = details;
  e.metadata = new Metadata();
  return e;
}

/**
 * Maps any error to the gRPC status the client gets. Errors with a known
 * code keep their message; anything else is a bug: INTERNAL, logged with its stack.
 */
export function toServiceError(err: unknown, log?: Logger): StatusError {
  const e = err as { code?: unknown; details?: unknown; message?: string };
  if (typeof e?.code === "number" && typeof e.details === "string") return e as StatusError;
  if (err instanceof MlBridgeError || (typeof e?.code === "string" && CODES[e.code as ErrorCode] !== undefined)) {
    const code = CODES[e.code as ErrorCode];
    if (code !== undefined) return statusError(code, e.message ?? String(err));
  }
  // A system error's message names the server's paths: the client gets its
  // code and the failed call only; the log keeps the whole of it.
  const sys = err as { code?: string; syscall?: string };
  if (sys?.code === "ENOSPC" || sys?.code === "EDQUOT") {
    log?.error({ err }, "model store is full");
    return statusError(status.RESOURCE_EXHAUSTED, `model store is full (${sys.code})`);
  }
  log?.error({ err }, "internal error");
  if (typeof sys?.syscall === "string") return statusError(status.INTERNAL, `internal error: ${sys.syscall} failed (${sys.code ?? "unknown"})`);
  return statusError(status.INTERNAL, `internal error: ${e?.message ?? String(err)}`);
}

/** INVALID_ARGUMENT naming a field. */
export const invalid = (field: string, what: string): StatusError => statusError(status.INVALID_ARGUMENT, `${field}: ${what}`);
