import type { RuntimeRegistry } from "@mlbridge/core";
import type { Logger } from "pino";
import type { PerConnectionSlots, Slots } from "./calls";
import type { ServerConfig } from "./config";
import type { Metrics } from "./metrics";
import type { ModelStore } from "./store";

/** What every service handler gets: the store, the limits, the log and the metrics. */
export interface ServiceContext {
  config: ServerConfig;
  store: ModelStore;
  /** The model kinds served (runtimes.ts). */
  runtimes: RuntimeRegistry;
  log: Logger;
  trainings: Slots;
  trainingsPerConnection: PerConnectionSlots;
  metrics: Metrics;
  /** Aborted when the shutdown's grace period is over: long calls (trainings) stop and answer UNAVAILABLE. */
  stopping: AbortSignal;
}
