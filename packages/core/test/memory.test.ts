import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { CRF_PRESETS, CrfModel, fitCrfCsv, readNerCsv, trainXgboostHere as trainXgboost, trimNativeHeap, XgbModel } from "../src";
import { dataFile } from "./data";

describe("memory", () => {
  it("trimNativeHeap gives the C heap's freed pages back to the system", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
    trimNativeHeap();
    // 125 MiB of Buffers, malloc'd (64 KiB is below glibc's mmap threshold); every 16th is kept,
    // so the freed ones are holes inside the heap, which free() cannot give back by itself.
    const buffers = Array.from({ length: 2000 }, () => Buffer.alloc(64 * 1024, 1));
    const kept = buffers.filter((_, i) => i % 16 === 0);
    buffers.length = 0;
    gc();
    await new Promise((r) => setTimeout(r, 50));
    gc();
    const before = rssMiB();
    expect(trimNativeHeap()).toBe(true);
    expect(before - rssMiB()).toBeGreaterThan(64);
    expect(kept.every((b) => b[0] === 1)).toBe(true);
  });

  it("1,000 train/predict/dispose cycles grow RSS by less than 64 MiB", async () => {
    const rows = 60;
    const values = new Float32Array(rows * 4).map((_, i) => (i * 7919) % 13);
    const labels = Float32Array.from({ length: rows }, (_, i) => i % 3);
    const data = await readNerCsv(dataFile("ner_predict.csv"), CRF_PRESETS.book.template, false);
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
  const fit = await fitCrfCsv(dataFile("ner.csv"), { preset: "book", noHoldout: true, params: { max_iterations: 3 } });
  const bytes = fit.model.bytes;
  fit.model.dispose();
  return bytes;
}
