/**
 * The one training runner of every model kind's Train stream: header first
 * (checked before any data is read), a training slot, the data received with
 * progress, the fit under the name's lock (cancellable, never on the event
 * loop: the kind's fit runs in a training process), the model saved, the
 * report sent, the end logged and counted (accounted, in calls.ts). A kind
 * gives only what differs: its header checks, how it receives, fits, stores
 * and reports.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { CancelledError, type RuntimeModel } from "@mlbridge/core";
import type { TrainProgress } from "../generated/mlbridge/v1/types";
import { callSignal, headerThenData, takeTrainingSlots, type NameModel } from "../calls";
import type { ServiceContext } from "../context";
import type { ModelMeta } from "../store";
import { progressEvent } from "./common";

/** Sends a progress event (defaults filled in). */
export type Progress = (p: Partial<TrainProgress>) => void;

/** A Train stream's responses: progress events, then one report. */
type TrainResponse<R> = { event?: { $case: "progress"; value: TrainProgress } | { $case: "report"; value: R } };

/** What a model kind gives the runner. */
export interface TrainingPlan<Req, H, D, F extends { model: RuntimeModel }, R> {
  /** The model kind (the runtime's), for the log. */
  kind: string;
  /** Checks the header before any data is read; its model name and whether it must be new. */
  begin(header: H): { name: string; failIfExists: boolean };
  /** Receives the data after the header (the kind's payloads), reporting bytes received. */
  receive(rest: AsyncIterable<Req>, progress: Progress): Promise<D>;
  /** Trains; `signal` aborts it (the call's cancellation, deadline or the server's shutdown). */
  fit(data: D, signal: AbortSignal, progress: Progress): Promise<F>;
  /** What the store keeps: the metadata fields and the model's bytes. */
  stored(fit: F): { fields: Omit<ModelMeta, "name" | "kind" | "sha256" | "sizeBytes" | "createdAt" | "version">; bytes: Buffer };
  /** The report event. */
  report(fit: F, meta: ModelMeta): R;
  /** Training seconds, for the log. */
  seconds(fit: F): number;
  /** The last iteration or round, for the "saving" progress event. */
  iterations(fit: F): number;
}

/** Runs a Train stream with `plan`. */
export async function runTraining<Req extends { payload?: { $case: string; value: unknown } }, H, D, F extends { model: RuntimeModel }, R>(
  ctx: ServiceContext,
  call: ServerDuplexStream<Req, TrainResponse<R>>,
  named: NameModel,
  plan: TrainingPlan<Req, H, D, F, R>,
): Promise<void> {
  const { store, log, config } = ctx;
  const signal = callSignal(call, ctx.stopping);
  const started = performance.now();
  const { header, rest } = await headerThenData<Req, H>(call, "header", config.uploadIdleSeconds);
  const { name, failIfExists } = plan.begin(header);
  named(name);
  store.refuseExisting(name, failIfExists);
  const release = takeTrainingSlots(ctx.trainings, ctx.trainingsPerConnection, call.getPeer());
  ctx.metrics.trainingsInProgress.inc();
  try {
    const progress: Progress = (p) => call.write({ event: { $case: "progress", value: progressEvent(started, p) } });
    const data = await plan.receive(rest as AsyncIterable<Req>, progress);
    if (signal.aborted) throw new CancelledError("training cancelled");
    const { fit, meta } = await store.withLock(name, async () => {
      store.refuseExisting(name, failIfExists);
      const fit = await plan.fit(data, signal, progress);
      if (signal.aborted) {
        fit.model.dispose();
        throw new CancelledError("training cancelled");
      }
      progress({ stage: "saving", iteration: plan.iterations(fit) });
      const { fields, bytes } = plan.stored(fit);
      let meta: ModelMeta;
      try {
        meta = await store.save({ name, kind: plan.kind, ...fields }, bytes, fit.model, { failIfExists });
      } catch (err) {
        fit.model.dispose(); // not stored, so never served: freed now
        throw err;
      }
      return { fit, meta };
    });
    call.write({ event: { $case: "report", value: plan.report(fit, meta) } });
    log.info({ model: name, kind: plan.kind, seconds: plan.seconds(fit), metrics: meta.metrics }, "model trained");
  } finally {
    ctx.metrics.trainingsInProgress.dec();
    release();
  }
}
