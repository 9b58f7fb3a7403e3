/**
 * The model kinds this server serves: one line per kind. Everything else in
 * the server reaches a kind through the registry (store, ModelService, the
 * Open Inference Protocol) or through the kind's own runtime object (its own
 * service: CrfService, XgboostService). docs/architecture.md: adding a kind.
 */
import { RuntimeRegistry, crfRuntime, xgboostRuntime } from "@mlbridge/core";

/** A registry of the built-in runtimes (a fresh one each call: a caller may register more). */
export const builtinRuntimes = (): RuntimeRegistry => new RuntimeRegistry([crfRuntime, xgboostRuntime]);
