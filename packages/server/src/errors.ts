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

/** An error to answer with a given gRPC status. */
export function statusError(code: status, details: string): StatusError {
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
    const code = CODES[(e.code as ErrorCode)];
    if (code !== undefined) return statusError(code, e.message ?? String(err));
  }
  const nodeCode = (e as { code?: string })?.code;
  if (nodeCode === "ENOSPC" || nodeCode === "EDQUOT") {
    return statusError(status.RESOURCE_EXHAUSTED, `model store is full: ${e.message}`);
  }
  log?.error({ err }, "internal error");
  return statusError(status.INTERNAL, `internal error: ${e?.message ?? String(err)}`);
}

/** INVALID_ARGUMENT naming a field. */
export const invalid = (field: string, what: string): StatusError => statusError(status.INVALID_ARGUMENT, `${field}: ${what}`);
