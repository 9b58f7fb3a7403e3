import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectStatus, startHarness, unary, type Harness } from "./helpers";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

function countStream(chunks: Buffer[]): Promise<{ counts: Record<string, number>; totalWords: number; totalBytes: number }> {
  return new Promise((resolve, reject) => {
    const call = h.text.countWordsStream((err, res) => (err ? reject(err) : resolve(res!)));
    for (const c of chunks) call.write({ chunk: c });
    call.end();
  });
}

describe("TextService", () => {
  it("CountWords counts like the book", async () => {
    const res = await unary(h.text.countWords.bind(h.text), { text: "the cat the hat Größe" });
    expect(res.counts).toEqual({ the: 2, cat: 1, hat: 1, Größe: 1 });
    expect(res.totalWords).toBe(5);
  });

  it("empty text is INVALID_ARGUMENT with the book's message", async () => {
    await expectStatus(unary(h.text.countWords.bind(h.text), { text: "" }), status.INVALID_ARGUMENT, "Empty input string");
    await expectStatus(countStream([]), status.INVALID_ARGUMENT, "Empty input string");
  });

  it("CountWordsStream handles chunks split inside words and characters", async () => {
    const text = Buffer.from("naïve words über words ".repeat(1000));
    const parts: Buffer[] = [];
    for (let i = 0; i < text.length; i += 777) parts.push(text.subarray(i, i + 777));
    const res = await countStream(parts);
    expect(res.counts).toEqual({ naïve: 1000, words: 2000, über: 1000 });
    expect(res.totalBytes).toBe(text.length);
  });

  it("invalid UTF-8 in a stream is INVALID_ARGUMENT", async () => {
    await expectStatus(countStream([Buffer.from([0x61, 0xff])]), status.INVALID_ARGUMENT, /not valid UTF-8/);
  });
});
