/**
 * Loads untrusted XGBoost model bytes in a throwaway process (see
 * XgbModel.fromUntrustedBuffer): XGBoost 1.7 does not validate everything it
 * reads, so a forged model may crash the process that loads it. This one
 * loads it, predicts a row, and sends back XGBoost's own re-serialisation.
 */
import { XgbModel } from "./model";

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
