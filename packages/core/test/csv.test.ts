import { describe, expect, it } from "vitest";
import { readCsv, readLabelledCsv, readNerCsv, CRF_PRESETS } from "../src";
import { dataFile } from "./data";

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe("readCsv", () => {
  it("reads a header and rows with their line numbers, across any chunking", async () => {
    const text = 'a,b\n1,"x\ny"\n\n3,z\n';
    for (const size of [1, 3, 100]) {
      const t = await readCsv(chunks(text, size));
      expect(t.header).toEqual(["a", "b"]);
      expect(t.rows).toEqual([
        ["1", "x\ny"],
        ["3", "z"],
      ]);
      expect(t.lines).toEqual([2, 5]);
    }
  });

  it("reads a file by path and reports a missing one", async () => {
    const t = await readCsv(dataFile("iris.csv"));
    expect(t.rows).toHaveLength(150);
    await expect(readCsv("/nonexistent/x.csv")).rejects.toMatchObject({ code: "NOT_FOUND", message: "file not found: /nonexistent/x.csv" });
  });

  it("drops a UTF-8 BOM", async () => {
    const t = await readCsv(Buffer.from("\ufeffa,b\n1,2\n"));
    expect(t.header).toEqual(["a", "b"]);
  });

  describe("bad input names the line", () => {
    const cases: [string, Buffer, RegExp][] = [
      ["empty file", Buffer.alloc(0), /the file is empty/],
      ["header only", Buffer.from("a,b\n"), /header but no data rows/],
      ["ragged row", Buffer.from("a,b\n1,2\n3\n"), /line 3: .*(record length|columns)/i],
      ["duplicated column", Buffer.from("a,a\n1,2\n"), /line 1: column "a" appears twice/],
      ["unclosed quote", Buffer.from('a,b\n1,"2\n'), /Quote Not Closed|quote/i],
      ["quote opening inside a field", Buffer.from('a,b\n1,x"y"\n'), /line 2: Invalid Opening Quote/],
      ["invalid UTF-8", Buffer.concat([Buffer.from("a,b\n1,2\n3,"), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]), /line 3: text is not valid UTF-8/],
    ];
    for (const [name, input, message] of cases) {
      it(name, async () => {
        await expect(readCsv(input)).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(message) });
      });
    }
    it("a missing required column", async () => {
      await expect(readCsv(Buffer.from("a,b\n1,2\n"), { required: ["c"] })).rejects.toThrow(/line 1: missing column "c"/);
    });
  });
});

describe("readNerCsv", () => {
  const header = ",lemma,next-lemma,sentence_idx,word,tag";
  it("groups rows into sentences by sentence_idx and builds the book's attributes", async () => {
    const csv = `${header}\n0,a,b,1,A,O\n1,b,c,1,B,B-geo\n2,c,__end1__,2,C,O\n`;
    const d = await readNerCsv(Buffer.from(csv), CRF_PRESETS.book.template, true);
    expect(d.sentenceIds).toEqual(["1", "2"]);
    expect(d.tokens).toBe(3);
    expect(d.sequences[0].items[1]).toEqual([
      ["b", 1],
      ["c", 0.5],
    ]);
    expect(d.sequences[0].labels).toEqual(["O", "B-geo"]);
  });

  it("requires the tag column only for training", async () => {
    const csv = ",lemma,next-lemma,sentence_idx\n0,a,b,1\n";
    await expect(readNerCsv(Buffer.from(csv), CRF_PRESETS.book.template, true)).rejects.toThrow(/missing column "tag"/);
    const d = await readNerCsv(Buffer.from(csv), CRF_PRESETS.book.template, false);
    expect(d.sequences[0].labels).toBeUndefined();
  });

  it("rejects an empty tag naming the line", async () => {
    await expect(readNerCsv(Buffer.from(`${header}\n0,a,b,1,A,O\n1,b,c,1,B,\n`), CRF_PRESETS.book.template, true)).rejects.toThrow(
      /line 3: column "tag" is empty/,
    );
  });
});

describe("readLabelledCsv", () => {
  it("encodes text labels in sorted order", async () => {
    const m = await readLabelledCsv(Buffer.from("x,y,species\n1,2,virginica\n3,4,setosa\n5,,versicolor\n"));
    expect(m.classNames).toEqual(["setosa", "versicolor", "virginica"]);
    expect([...m.labels]).toEqual([2, 0, 1]);
    expect(m.featureNames).toEqual(["x", "y"]);
    expect(Number.isNaN(m.values[5])).toBe(true); // empty = missing
  });

  for (const bad of ["abc", "NaN", "Infinity", "1e999", "0x10"]) {
    it(`rejects the feature value ${bad} naming line and column`, async () => {
      await expect(readLabelledCsv(Buffer.from(`x,y,label\n1,2,0\n1,${bad},1\n`))).rejects.toThrow(/line 3, column "y": expected a finite number/);
    });
  }
});
