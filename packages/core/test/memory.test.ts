import { describe, expect, it } from "vitest";
import { CRF_PRESETS, CrfModel, fitCrfCsv, readNerCsv, trainXgboost, XgbModel } from "../src";
import { book } from "./data";

describe("memory", () => {
  it("1,000 train/predict/dispose cycles grow RSS by less than 64 MiB", async () => {
    const rows = 60;
    const values = new Float32Array(rows * 4).map((_, i) => (i * 7919) % 13);
    const labels = Float32Array.from({ length: rows }, (_, i) => i % 3);
    const data = await readNerCsv(book("ner_predict.csv"), CRF_PRESETS.book.template, false);
    const cycle = async () => {
      const r = await trainXgboost({ values, rows, cols: 4, labels }, { params: { objective: "multi:softmax", num_class: 3 }, numRounds: 2, testFraction: 0.2 });
      r.model.predict(values, rows, 4);
      const bytes = r.model.toBuffer("ubj");
      r.model.dispose();
      const again = XgbModel.fromBuffer(bytes);
      again.predict(values.subarray(0, 4), 1, 4);
      again.dispose();
    };
    const crfModelBytes = await trainedCrfBytes();
    const crfCycle = () => {
      const m = CrfModel.fromBuffer(crfModelBytes);
      m.tag(data.sequences[0].items, { marginals: true });
      m.dispose();
    };
    for (let i = 0; i < 100; i++) {
      await cycle();
      crfCycle();
    }
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) {
      await cycle();
      crfCycle();
    }
    global.gc?.();
    const growth = (process.memoryUsage().rss - before) / 2 ** 20;
    expect(growth).toBeLessThan(64);
  }, 300_000);
});

async function trainedCrfBytes(): Promise<Buffer> {
  const fit = await fitCrfCsv(book("ner.csv"), { preset: "book", noHoldout: true, params: { max_iterations: 3 } });
  const bytes = fit.model.bytes;
  fit.model.dispose();
  return bytes;
}
