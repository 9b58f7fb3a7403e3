import { describe, expect, it } from "vitest";
import { countWords, countsToObject, WordCounter } from "../src/text";

describe("countWords", () => {
  it("counts like the book's \\w+ regex", () => {
    expect(countsToObject(countWords("the cat and the hat, the end!"))).toEqual({ the: 3, cat: 1, and: 1, hat: 1, end: 1 });
  });

  it("keeps case, digits and underscores inside words", () => {
    expect(countsToObject(countWords("The the snake_case 42 4.2"))).toEqual({ The: 1, the: 1, snake_case: 1, "42": 1, "4": 1, "2": 1 });
  });

  it("treats Unicode letters and marks as word characters", () => {
    const c = countWords("naïve café — Καλημέρα κόσμε, 東京 東京; cafe\u0301");
    expect(c.get("naïve")).toBe(1);
    expect(c.get("Καλημέρα")).toBe(1);
    expect(c.get("東京")).toBe(2);
    expect(c.get("cafe\u0301")).toBe(1);
    expect(c.has("—")).toBe(false);
  });

  it("returns an empty map for text without words", () => {
    expect(countWords("  ...  !!").size).toBe(0);
  });

  describe("bad calls", () => {
    it("rejects an empty string with the book's message", () => {
      expect(() => countWords("")).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT", message: "Empty input string" }));
    });
    it("rejects a non-string", () => {
      expect(() => countWords(undefined as unknown as string)).toThrowError("Empty input string");
    });
  });
});

describe("WordCounter (chunked input)", () => {
  const text = "größer Straße größer 東京 words_with_underscores end";

  it("gives the same counts whatever the chunk boundaries, even inside characters", () => {
    const bytes = Buffer.from(text, "utf8");
    const whole = countsToObject(countWords(text));
    for (let size = 1; size <= 7; size++) {
      const wc = new WordCounter();
      for (let i = 0; i < bytes.length; i += size) wc.push(bytes.subarray(i, i + size));
      expect(countsToObject(wc.finish())).toEqual(whole);
      expect(wc.totalWords).toBe(6);
      expect(wc.totalBytes).toBe(bytes.length);
    }
  });

  it("rejects invalid UTF-8 and empty input", () => {
    const wc = new WordCounter();
    expect(() => wc.push(Buffer.from([0x61, 0xff, 0x62]))).toThrowError(/not valid UTF-8/);
    expect(() => new WordCounter().finish()).toThrowError("Empty input string");
    const cut = new WordCounter();
    cut.push(Buffer.from([0xe6, 0x9d]));
    expect(() => cut.finish()).toThrowError(/ends inside a character/);
  });
});
