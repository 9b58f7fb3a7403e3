import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Metrics } from "./metrics";

const HEALTH = "/grpc.health.v1.Health/";

/** Compares two secrets in constant time (over their SHA-256, so lengths do not leak either). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * Requires `authorization: Bearer <token>` on every RPC except health checks
 * (so load balancers can probe). Rejects with UNAUTHENTICATED before the handler runs.
 */
export function authInterceptor(token: string): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (method.path.startsWith(HEALTH)) return mdNext(metadata);
            const header = metadata.get("authorization")[0];
            const given = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined;
            if (given !== undefined && sameSecret(given, token)) return mdNext(metadata);
            call.sendStatus({
              code: status.UNAUTHENTICATED,
              details: given === undefined ? "missing bearer token (metadata 'authorization: Bearer <token>')" : "invalid bearer token",
              metadata: new Metadata(),
            });
          },
        });
      },
    });
}

/** Logs every RPC (request id, method, status, duration) and records its latency. */
export function observeInterceptor(log: Logger, metrics: Metrics): ServerInterceptor {
  return (method, call) => {
    const start = process.hrtime.bigint();
    let requestId = "";
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const given = metadata.get("x-request-id")[0];
            requestId = typeof given === "string" && given.length <= 128 ? given : randomUUID();
            mdNext(metadata);
          },
        });
      },
      sendStatus: (st, next) => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const code = status[st.code] ?? String(st.code);
        metrics.rpcDuration.observe({ method: method.path, code }, seconds);
        const entry = { requestId, method: method.path, status: code, ms: Math.round(seconds * 1e6) / 1e3 };
        if (st.code === status.OK) log.debug(entry, "rpc");
        else if (st.code === status.INTERNAL || st.code === status.UNKNOWN) log.error({ ...entry, details: st.details }, "rpc failed");
        else log.info({ ...entry, details: st.details }, "rpc");
        next(st);
      },
    });
  };
}
