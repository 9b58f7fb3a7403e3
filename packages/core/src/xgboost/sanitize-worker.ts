/**
 * Loads untrusted XGBoost model bytes in a throwaway process (see
 * XgbModel.fromUntrustedBuffer): XGBoost does not validate everything it
 * reads, so a forged model may crash the process that loads it. This one
 * checks its structure and loads it as XgbModel.fromBuffer does, predicts a
 * row through XGBoost, and sends back XGBoost's own re-serialisation.
 */
import { XgbModel } from "./model";

// The caller compiles the forest of the model it keeps; this process's would be thrown away.
process.env.MLBRIDGE_XGBOOST_COMPILED = "0";

process.once("message", (bytes: Uint8Array) => {
  let reply: unknown;
  try {
    const model = XgbModel.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (model.numFeatures > 0) model.predict(new Float32Array(model.numFeatures), 1, model.numFeatures, "margins");
    reply = { ok: true, bytes: model.toBuffer("ubj") };
    model.dispose();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    reply = { ok: false, code: e.code ?? "INTERNAL", message: e.message ?? String(err) };
  }
  process.send!(reply, () => process.disconnect());
});
