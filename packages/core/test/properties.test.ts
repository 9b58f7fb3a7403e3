/** Property-based tests (fast-check) of the CSV reader, the feature builder, the word count and the native boundary. */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CRF_PRESETS,
  CrfModel,
  WordCounter,
  compileTemplate,
  countWords,
  countsToObject,
  fitCrfCsv,
  fitXgboostCsv,
  itemFromRow,
  readCsv,
  XgbModel,
} from "../src";
import { dataFile } from "./data";

const field = fc.string({ unit: fc.constantFrom("a", "b", "Z", "1", ",", '"', "\n", " ", "é", "東", "\r"), maxLength: 8 });
const quote = (v: string) => (/[",\n\r]/.test(v) || v === "" ? `"${v.replace(/"/g, '""')}"` : v);

describe("readCsv", () => {
  it("reads back any table it is given, whatever the quoting and chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 5 })
          .chain((cols) =>
            fc.tuple(
              fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: cols, maxLength: cols }),
              fc.array(fc.array(field, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 20 }),
              fc.integer({ min: 1, max: 50 }),
            ),
          ),
        async ([header, rows, chunk]) => {
          // A row whose fields are all empty would be an empty line, which CSV readers skip.
          fc.pre(rows.every((r) => r.some((v) => v !== "")));
          const text = Buffer.from([header.join(","), ...rows.map((r) => r.map(quote).join(","))].join("\n") + "\n");
          async function* chunks() {
            for (let i = 0; i < text.length; i += chunk) yield text.subarray(i, i + chunk);
          }
          const t = await readCsv(chunks());
          expect(t.header).toEqual(header);
          expect(t.rows).toEqual(rows);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("never throws anything but INVALID_ARGUMENT on arbitrary bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          await readCsv(Buffer.from(bytes), { required: ["a"] });
        } catch (err) {
          expect((err as { code?: string }).code).toBe("INVALID_ARGUMENT");
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("feature builder", () => {
  it("makes one attribute per non-empty templated value, with the template's weight and prefix", () => {
    const template = CRF_PRESETS.rich.template;
    const header = [...new Set(template.map((f) => f.column))];
    const compiled = compileTemplate(template, new Map(header.map((h, i) => [h, i])));
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 5 }), { minLength: header.length, maxLength: header.length }), (row) => {
        const item = itemFromRow(row, compiled);
        expect(item.length).toBe(row.filter((v) => v !== "").length);
        for (const [name, weight] of item) {
          expect(weight).toBe(1);
          expect(name).toMatch(/^[a-z-]+=./s);
        }
      }),
    );
  });
});

describe("word count", () => {
  it("equals the regex definition (\\w+ as Unicode classes) on any text, surrogates and marks included", () => {
    const WORD = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+/gu;
    const reference = (text: string) => {
      const out = new Map<string, number>();
      for (const m of text.matchAll(WORD)) out.set(m[0], (out.get(m[0]) ?? 0) + 1);
      return [...out];
    };
    const piece = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }), // lone surrogates too
      fc.constantFrom("a", "_", "9", " ", "\u200d", "\u0301", "\ud83d\ude00", "\ud83d", "\ude00", "東京", "𝟘", "x\u200cy"),
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), (parts) => {
        const text = parts.join("") || "a";
        expect([...countWords(text)]).toEqual(reference(text)); // same words, counts and first-seen order
      }),
      { numRuns: 1000 },
    );
  });

  it("counts the same whatever the chunking of the UTF-8 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 9 }), (text, size) => {
        const bytes = Buffer.from(text);
        const wc = new WordCounter();
        for (let i = 0; i < bytes.length; i += size) wc.push(bytes.subarray(i, i + size));
        expect(countsToObject(wc.finish())).toEqual(countsToObject(countWords(text)));
      }),
      { numRuns: 300 },
    );
  });
});

describe("native boundary", () => {
  let crf: CrfModel;
  let xgb: XgbModel;
  beforeAll(async () => {
    const fit = await fitCrfCsv(dataFile("ner.csv"), { preset: "book", noHoldout: true, params: { max_iterations: 3 } });
    crf = fit.model;
    xgb = (await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" })).model;
  });
  afterAll(() => {
    crf.dispose();
    xgb.dispose();
  });

  // Well-formed: a name CRFsuite can hold (non-empty, no NUL, any other Unicode) and a finite weight.
  const attr = fc.tuple(
    fc.string({ minLength: 1, maxLength: 12, unit: "binary" }).filter((s) => !s.includes("\0")),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  );

  it("tags any well-formed sequence with one known label per item", () => {
    fc.assert(
      fc.property(fc.array(fc.array(attr, { maxLength: 5 }), { maxLength: 30 }), (items) => {
        const r = crf.tag(items, { probability: true, marginals: true });
        expect(r.labels).toHaveLength(items.length);
        for (const l of r.labels) expect(crf.labels).toContain(l);
        if (items.length) expect(r.marginals!.length).toBe(items.length * crf.labels.length);
      }),
      { numRuns: 300 },
    );
  });

  it("tags any batch packed exactly as sequence by sequence", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.array(attr, { maxLength: 5 }), { maxLength: 12 }), { maxLength: 8 }), async (seqs) => {
        const many = await crf.tagMany(seqs, { probability: true, marginals: true });
        expect(many).toEqual(seqs.map((s) => crf.tag(s, { probability: true, marginals: true })));
      }),
      { numRuns: 200 },
    );
  });

  it("tags any packed input whose sizes agree, and refuses any other with INVALID_ARGUMENT, never a crash", async () => {
    // Small numbers, so that random counts and lengths often agree and the tagger runs.
    const small = fc.integer({ min: 0, max: 4 });
    const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => b.map((x) => (x % 5 === 0 ? 0 : x)));
    const random = fc.record({
      attributeNames: bytes,
      attributeWeights: fc.option(fc.float64Array({ maxLength: 10 }), { nil: undefined }),
      itemAttributeCounts: fc.array(small, { maxLength: 8 }).map((a) => Uint32Array.from(a)),
      sequenceLengths: fc.array(small, { maxLength: 4 }).map((a) => Uint32Array.from(a)),
    });
    // Consistent sizes, arbitrary names (any bytes but NUL) and weights (NaN and infinities included).
    const consistent = fc.array(small, { maxLength: 4 }).chain((lengths) =>
      fc.array(small, { minLength: lengths.reduce((a, b) => a + b, 0), maxLength: lengths.reduce((a, b) => a + b, 0) }).chain((counts) => {
        const n = counts.reduce((a, b) => a + b, 0);
        const name = fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => b.map((x) => x || 1));
        return fc.record({
          attributeNames: fc.array(name, { minLength: n, maxLength: n }).map((ns) => Buffer.concat(ns.flatMap((x) => [x, Buffer.alloc(1)]))),
          attributeWeights: fc.option(fc.float64Array({ minLength: n, maxLength: n }), { nil: undefined }),
          itemAttributeCounts: fc.constant(Uint32Array.from(counts)),
          sequenceLengths: fc.constant(Uint32Array.from(lengths)),
        });
      }),
    );
    const packed = fc.oneof(random, consistent);
    let tagged = 0;
    await fc.assert(
      fc.asyncProperty(packed, fc.boolean(), async (p, marginals) => {
        let r: Awaited<ReturnType<typeof crf.tagPacked>>;
        try {
          r = await crf.tagPacked(p, { probability: true, marginals });
        } catch (err) {
          expect((err as { code?: string }).code).toBe("INVALID_ARGUMENT");
          return;
        }
        tagged++;
        const items = p.sequenceLengths.reduce((a, b) => a + b, 0);
        expect(r.paths.length).toBe(items);
        expect(r.probabilities!.length).toBe(p.sequenceLengths.length);
        for (const k of r.paths) expect(k >= 0 && k < crf.labels.length).toBe(true);
        if (marginals) expect(r.marginals!.length).toBe(items * crf.labels.length);
      }),
      { numRuns: 2000 },
    );
    expect(tagged).toBeGreaterThan(20); // the generator does reach the tagger
  });

  it("rejects malformed items with INVALID_ARGUMENT, never a crash", () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        try {
          crf.tag(junk as never);
        } catch (err) {
          expect((err as { code?: string }).code).toBe("INVALID_ARGUMENT");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("predicts any float rows, NaN as missing, one class each", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noDefaultInfinity: true }), { minLength: 4, maxLength: 400 }), (xs) => {
        const rows = Math.floor(xs.length / 4);
        fc.pre(rows > 0);
        const p = xgb.predict(Float32Array.from(xs.slice(0, rows * 4)), rows, 4);
        expect(p.classNames).toHaveLength(rows);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects arbitrary bytes as models with a coded error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), (bytes) => {
        for (const open of [() => CrfModel.fromBuffer(Buffer.from(bytes)), () => XgbModel.fromBuffer(Buffer.from(bytes))]) {
          try {
            open().dispose();
          } catch (err) {
            expect(["CRFSUITE_ERROR", "INVALID_ARGUMENT", "FAILED_PRECONDITION"]).toContain((err as { code?: string }).code);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
