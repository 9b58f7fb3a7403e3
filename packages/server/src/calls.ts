import { status, type ServerDuplexStream, type ServerReadableStream, type ServerUnaryCall, type sendUnaryData, type ServerWritableStream } from "@grpc/grpc-js";
import { Readable } from "node:stream";
import type { Logger } from "pino";
import { statusError, toServiceError } from "./errors";

/**
 * grpc-js only catches synchronous throws from handlers: every async handler
 * goes through one of these wrappers, which turn a rejection into the call's status.
 */
export function unary<Req, Res>(
  log: Logger,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  /** Optional synchronous fast path: answers now, or returns undefined to fall through to `fn`. */
  now?: (req: Req) => Res | undefined,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    if (now) {
      let res: Res | undefined;
      try {
        res = now(call.request);
      } catch (err) {
        callback(toServiceError(err, log));
        return;
      }
      if (res !== undefined) {
        callback(null, res);
        return;
      }
    }
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err, log)),
      );
  };
}

/** Client-streaming handler wrapper. */
export function clientStream<Req, Res>(log: Logger, fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>) {
  return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call).then(
      (res) => callback(null, res),
      (err) => {
        call.destroy(); // stop reading whatever the client still sends
        callback(toServiceError(err, log));
      },
    );
  };
}

/** Server- or bidi-streaming handler wrapper: ends the call with OK or the error's status. */
export function serverStream<Req, Res, C extends ServerWritableStream<Req, Res> | ServerDuplexStream<Req, Res>>(log: Logger, fn: (call: C) => Promise<void>) {
  return (call: C): void => {
    fn(call).then(
      () => {
        if (!call.cancelled) call.end();
      },
      (err) => {
        if (!call.cancelled) call.emit("error", toServiceError(err, log));
      },
    );
  };
}

/** An AbortSignal that fires when the client cancels the call or its deadline passes, or when `stopping` fires. */
export function callSignal(call: { cancelled: boolean; once(event: "cancelled", fn: () => void): unknown }, stopping?: AbortSignal): AbortSignal {
  const ac = new AbortController();
  if (call.cancelled) ac.abort();
  else call.once("cancelled", () => ac.abort());
  return stopping ? AbortSignal.any([ac.signal, stopping]) : ac.signal;
}

/**
 * A long handler that the server's shutdown stopped answers UNAVAILABLE saying
 * so (a client retries elsewhere), rather than the bare cancellation.
 */
export function stoppable<C>(stopping: AbortSignal, fn: (call: C) => Promise<void>): (call: C) => Promise<void> {
  return (call) =>
    fn(call).catch((err: unknown) => {
      if (!stopping.aborted) throw err;
      throw statusError(
        status.UNAVAILABLE,
        "the server is shutting down: the training was stopped and nothing was stored; retry it (on another replica, or once the server is back)",
      );
    });
}

/**
 * Iterates a call's incoming messages, one at a time (backpressure included).
 * Plain `for await` over a stream destroys it when the loop ends, which on a
 * duplex call would also kill the response side: this never destroys the call.
 */
export async function* messages<T>(call: AsyncIterable<unknown> | Readable, idleSeconds?: number): AsyncGenerator<T> {
  const it = (call instanceof Readable ? call.iterator({ destroyOnReturn: false }) : call)[Symbol.asyncIterator]();
  for (;;) {
    const next = it.next();
    let timer: NodeJS.Timeout | undefined;
    const r = idleSeconds
      ? await Promise.race([
          next,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  statusError(
                    status.DEADLINE_EXCEEDED,
                    `the upload sent nothing for ${idleSeconds} s (the server's --upload-idle-seconds): abandoned, nothing was stored`,
                  ),
                ),
              idleSeconds * 1000,
            );
          }),
        ]).finally(() => clearTimeout(timer))
      : await next;
    if (r.done) return;
    yield r.value as T;
  }
}

/**
 * Reads the first message of a header-then-data stream and returns it with an
 * iterator over the rest.
 * @throws INVALID_ARGUMENT when the stream is empty or does not start with a header
 */
export async function headerThenData<T extends { payload?: { $case: string; value: unknown } }, H>(
  stream: AsyncIterable<unknown> | Readable,
  headerCase: string,
  /** Seconds without a message after which the upload is abandoned (DEADLINE_EXCEEDED); none when undefined. */
  idleSeconds?: number,
): Promise<{ header: H; rest: AsyncGenerator<T> }> {
  const it = messages<T>(stream, idleSeconds);
  const first = await it.next();
  if (first.done) throw statusError(status.INVALID_ARGUMENT, "the stream ended before the header message");
  if (first.value.payload?.$case !== headerCase) {
    throw statusError(status.INVALID_ARGUMENT, `the first message must be the ${headerCase}, got ${first.value.payload?.$case ?? "an empty message"}`);
  }
  return { header: first.value.payload.value as H, rest: it };
}

/** Counts training slots: more than `max` at once get RESOURCE_EXHAUSTED. */
export class Slots {
  private used = 0;
  constructor(readonly max: number) {}
  get active(): number {
    return this.used;
  }
  /** Takes a slot; the returned function gives it back (idempotent). */
  take(what: string): () => void {
    if (this.used >= this.max) {
      throw statusError(status.RESOURCE_EXHAUSTED, `too many ${what} running (limit ${this.max}); try again later`);
    }
    this.used++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.used--;
      }
    };
  }
}

/**
 * Training slots per client connection (its peer address): one caller cannot
 * take every training slot of the server. Excess → RESOURCE_EXHAUSTED.
 */
export class PerConnectionSlots {
  private readonly used = new Map<string, number>();
  constructor(readonly max: number) {}
  /** Takes a slot for `peer`; the returned function gives it back (idempotent). */
  take(peer: string, what: string): () => void {
    const n = this.used.get(peer) ?? 0;
    if (n >= this.max) {
      throw statusError(status.RESOURCE_EXHAUSTED, `too many ${what} running on this connection (limit ${this.max} per connection); try again later`);
    }
    this.used.set(peer, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.used.get(peer) ?? 1) - 1;
      if (left > 0) this.used.set(peer, left);
      else this.used.delete(peer);
    };
  }
}

/** Takes a global and a per-connection training slot; returns the release of both. */
export function takeTrainingSlots(global: Slots, perConnection: PerConnectionSlots, peer: string): () => void {
  const releaseGlobal = global.take("trainings");
  try {
    const releasePeer = perConnection.take(peer, "trainings");
    return () => {
      releasePeer();
      releaseGlobal();
    };
  } catch (err) {
    releaseGlobal();
    throw err;
  }
}

/**
 * Whether a call's deadline has passed. The client cancels at its own
 * deadline; the server places it at the moment it read the timeout plus the
 * timeout, later by however long the headers took to be read — under load
 * hundreds of ms (a 1.5 s call in a loaded process was logged "cancelled"
 * with a fixed 50 ms). A cancel counts as the deadline within a slack of a
 * fifth of the timeout the server was given (`receivedAt`: when the call
 * arrived, ms since the epoch), at least 50 ms and at most 1 s; 50 ms when
 * the arrival is not known.
 */
export function deadlineReached(call: { getDeadline(): unknown }, receivedAt?: number): boolean {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : typeof deadline === "number" ? deadline : Infinity;
  if (!Number.isFinite(at)) return false;
  const slack = receivedAt === undefined ? 50 : Math.min(1000, Math.max(50, (at - receivedAt) / 5));
  return at <= Date.now() + slack;
}

/** What a training handler is given to name its model once it has read the header. */
export type NameModel = (model: string) => void;

/**
 * Accounts for every training's end: counts it in mlbridge_trainings_total by
 * kind and outcome (ok, failed, cancelled, deadline) and logs it with its
 * model, outcome and duration — cancellations and missed deadlines included,
 * which end without a status of the handler's own.
 */
export function accounted<C extends { cancelled: boolean; getDeadline(): unknown }>(
  ctx: { log: Logger; metrics: { trainings: { inc(labels: { kind: string; outcome: string }): void } } },
  kind: string,
  fn: (call: C, named: NameModel) => Promise<void>,
): (call: C) => Promise<void> {
  return async (call) => {
    const started = performance.now();
    const receivedAt = Date.now();
    let model = "";
    const end = (outcome: string, err?: unknown) => {
      ctx.metrics.trainings.inc({ kind, outcome });
      const entry = { model: model || undefined, kind, outcome, seconds: Math.round(performance.now() - started) / 1000 };
      if (outcome === "ok") ctx.log.info(entry, "training ended");
      else ctx.log.warn({ ...entry, error: (err as { message?: string })?.message?.slice(0, 200) }, "training ended");
    };
    try {
      await fn(call, (m) => (model = m));
      end("ok");
    } catch (err) {
      const cancelled = call.cancelled || (err as { code?: unknown })?.code === "CANCELLED";
      end(deadlineReached(call, receivedAt) ? "deadline" : cancelled ? "cancelled" : "failed", err);
      throw err;
    }
  };
}
