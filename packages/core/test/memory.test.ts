import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { trimNativeHeap } from "../src";

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
});
