import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { deadlineReached } from "./calls";
import { undecodable } from "./decode";
import { MODEL_LABELS, type Metrics } from "./metrics";

const HEALTH = "/grpc.health.v1.Health/";

/** Compares two secrets in constant time (over their SHA-256, so lengths do not leak either). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** The token of an `authorization: Bearer <token>` value, or undefined; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: unknown): string | undefined {
  return typeof header === "string" && /^bearer +/i.test(header) ? header.replace(/^bearer +/i, "") : undefined;
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
            const given = bearerToken(header);
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

/**
 * The model a request message names: `model_name` (predict, tag, infer), a
 * stream's header's `model_name` (train), or `name` (model service, import);
 * "" when none. Only the first message of a call is asked.
 */
function modelOf(message: unknown): string {
  const m = message as { modelName?: unknown; name?: unknown; payload?: { value?: { modelName?: unknown; name?: unknown } } } | null;
  const v = m?.modelName ?? m?.name ?? m?.payload?.value?.modelName ?? m?.payload?.value?.name;
  // Names are checked by the handlers; only a plausible one becomes a label.
  return typeof v === "string" && v.length > 0 && v.length <= 128 && /^[A-Za-z0-9._-]+$/.test(v) ? v : "";
}

/**
 * Logs every RPC (request id, method, status, duration) and records its latency.
 * Per call it only reads the clock twice and bumps a histogram child cached per
 * method and code; the request id (the client's `x-request-id`, else a random
 * UUID) is made only when an entry is actually logged.
 */
export function observeInterceptor(log: Logger, metrics: Metrics): ServerInterceptor {
  const children = new Map<string, { observe(v: number): void }>();
  const modelChildren = new Map<string, { observe(v: number): void }>();
  const named = new Set<string>();
  return (method, call) => {
    const start = process.hrtime.bigint();
    const receivedAt = Date.now();
    let given: unknown;
    let ended = false;
    let model: string | undefined;
    const record = (st: { code: status; details?: string }) => {
      if (ended) return;
      ended = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const code = status[st.code] ?? String(st.code);
      const key = `${method.path} ${code}`;
      let child = children.get(key);
      if (!child) {
        child = metrics.rpcDuration.labels({ method: method.path, code });
        if (children.size < 512) children.set(key, child);
      }
      child.observe(seconds);
      if (model) {
        // Per model, under a cap of distinct names (MODEL_LABELS).
        if (!named.has(model)) {
          if (named.size < MODEL_LABELS) named.add(model);
          else model = "_other";
        }
        const name = method.path.slice(method.path.lastIndexOf("/") + 1);
        const mkey = `${model}\0${name}\0${code}`;
        let mchild = modelChildren.get(mkey);
        if (!mchild) {
          mchild = metrics.modelDuration.labels({ model, method: name, code });
          if (modelChildren.size < 4096) modelChildren.set(mkey, mchild);
        }
        mchild.observe(seconds);
      }
      const ok = st.code === status.OK;
      if (!ok || log.isLevelEnabled("debug")) {
        const requestId = typeof given === "string" && given.length <= 128 ? given : randomUUID();
        const entry = { requestId, method: method.path, ...(model ? { model } : {}), status: code, ms: Math.round(seconds * 1e6) / 1e3 };
        if (ok) log.debug(entry, "rpc");
        else if (st.code === status.INTERNAL || st.code === status.UNKNOWN) log.error({ ...entry, details: st.details }, "rpc failed");
        else log.info({ ...entry, details: st.details }, "rpc");
      }
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            given = metadata.get("x-request-id")[0];
            mdNext(metadata);
          },
          // A request that did not decode (decode.ts): INVALID_ARGUMENT, not grpc-js's INTERNAL.
          onReceiveMessage: (message, msgNext) => {
            if (model === undefined) model = modelOf(message);
            const bad = undecodable(message, method.path);
            if (!bad) return msgNext(message);
            record(bad);
            call.sendStatus(bad);
          },
          // A call the client cancelled, or whose deadline passed, ends without
          // a status of ours: logged and counted here (grpc-js answers an expired
          // deadline itself, past the interceptors).
          onCancel: () => {
            const expired = deadlineReached(call, receivedAt);
            record(expired ? { code: status.DEADLINE_EXCEEDED, details: "deadline exceeded" } : { code: status.CANCELLED, details: "cancelled by the client" });
          },
        });
      },
      sendStatus: (st, next) => {
        record(st);
        next(st);
      },
    });
  };
}
