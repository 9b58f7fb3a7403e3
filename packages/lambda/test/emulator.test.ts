/**
 * End to end in the real AWS Lambda Runtime Interface Emulator: the deployment
 * package dist/function.zip, unzipped, run by the Node.js runtime interface
 * client (aws-lambda-ric) under aws-lambda-rie, invoked over HTTP.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureRic,
  ensureRie,
  parseInitReport,
  parseReport,
  PKG_ROOT,
  readZip,
  RIE_VERSION,
  startEmulator,
  unzipToTemp,
  type Emulator,
} from "./support/emulator";

const ZIP = join(PKG_ROOT, "dist", "function.zip");

let emu: Emulator;
let taskRoot: string;
let rie: string;
let ric: string;
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  if (!existsSync(ZIP)) {
    throw new Error(`${ZIP} is missing: build it first (npm run package -w packages/lambda, or nx run lambda:build)`);
  }
  rie = ensureRie();
  ric = ensureRic();
  taskRoot = await unzipToTemp(ZIP);
  emu = await startEmulator({ rie, ric, taskRoot, memoryMb: 256, timeoutS: 10 });
});

afterAll(async () => {
  await emu?.stop();
  if (taskRoot) rmSync(taskRoot, { recursive: true, force: true });
  if (Object.keys(measured).length > 0) {
    const dir = join(PKG_ROOT, ".cache");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "emulator-report.json"), JSON.stringify(measured, null, 2) + "\n");
    process.stderr.write(`[lambda emulator] measured: ${JSON.stringify(measured)}\n`);
  }
});

/** The JSON log line the handler wrote for a request. */
function handlerLog(log: string, requestId: string): Record<string, unknown> | undefined {
  for (const line of log.split("\n")) {
    const i = line.indexOf("{");
    if (i < 0 || !line.includes(`"requestId":"${requestId}"`)) continue;
    try {
      return JSON.parse(line.slice(i)) as Record<string, unknown>;
    } catch {
      /* not ours */
    }
  }
  return undefined;
}

describe("deployment package", () => {
  it("dist/function.zip holds one file, index.js, with no native addon in it", async () => {
    const entries = await readZip(ZIP);
    expect([...entries.keys()]).toEqual(["index.js"]);
    const code = entries.get("index.js")!.toString("utf8");
    expect(code).not.toMatch(/\.node["'`]/);
    expect(code).not.toMatch(/binding|mlbridge\.node|node-gyp-build/);
    expect(code.startsWith('"use strict";')).toBe(true); // CommonJS, for index.handler on nodejs20.x
    measured.zipBytes = statSync(ZIP).size;
    measured.indexJsBytes = entries.get("index.js")!.length;
  });
});

describe("in aws-lambda-rie (" + RIE_VERSION + ") with aws-lambda-ric", () => {
  it("book event: returns the JSON string of counts (cold start)", async () => {
    const r = await emu.invoke({ string: "the cat and the hat and the bat" });
    expect(r.status).toBe(200);
    const result = JSON.parse(r.body) as unknown; // the function's result is a string
    expect(typeof result).toBe("string");
    expect(JSON.parse(result as string)).toEqual({ the: 3, cat: 1, and: 2, hat: 1, bat: 1 });

    const [report] = await emu.reports(1);
    const rep = parseReport(report);
    const log = handlerLog(emu.log(), rep.requestId);
    expect(log).toMatchObject({ level: "info", requestId: rep.requestId, words: 8, distinctWords: 5 });
    measured.coldStartInitMs = parseInitReport(emu.log());
    measured.coldStartReportInitDurationMs = rep.initDurationMs;
    measured.coldStartFirstInvokeDurationMs = rep.durationMs;
    measured.coldStartFirstInvokeWallMs = Math.round(r.wallMs * 100) / 100;
    expect(measured.coldStartInitMs).toBeGreaterThan(0);
  });

  it("proxy event (Function URL / HTTP API v2, base64 body): 200 with the counts", async () => {
    const event = {
      version: "2.0",
      routeKey: "$default",
      rawPath: "/",
      rawQueryString: "",
      headers: { "content-type": "application/json" },
      requestContext: { http: { method: "POST", path: "/" }, requestId: "url-1", stage: "$default" },
      body: Buffer.from(JSON.stringify({ string: "to be or not to be" })).toString("base64"),
      isBase64Encoded: true,
    };
    const r = await emu.invoke(event);
    expect(r.status).toBe(200);
    const res = JSON.parse(r.body) as { statusCode: number; headers: Record<string, string>; body: string };
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(res.body)).toEqual({ to: 2, be: 2, or: 1, not: 1 });
  });

  it("proxy event (REST API v1) with an empty string: 400", async () => {
    const r = await emu.invoke({
      httpMethod: "POST",
      path: "/wordcount",
      requestContext: { requestId: "apigw-1", stage: "prod" },
      body: JSON.stringify({ string: "" }),
      isBase64Encoded: false,
    });
    const res = JSON.parse(r.body) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: "Empty input string" });
  });

  it("empty string: the invocation fails with errorMessage 'Empty input string' and the request id is logged", async () => {
    const before = (await emu.reports(0)).length;
    const r = await emu.invoke({ string: "" });
    const err = JSON.parse(r.body) as { errorType: string; errorMessage: string };
    expect(err.errorMessage).toBe("Empty input string");
    expect(err.errorType).toBe("InvalidInputError");
    const reports = await emu.reports(before + 1);
    const { requestId } = parseReport(reports[before]);
    expect(emu.log()).toContain(`Empty string in request ${requestId}`);
    expect(handlerLog(emu.log(), requestId)).toMatchObject({ level: "error", requestId, error: "Empty input string" });
  });

  it("a non-string field fails with the message naming it", async () => {
    const r = await emu.invoke({ string: 42 });
    expect((JSON.parse(r.body) as { errorMessage: string }).errorMessage).toBe('Invalid input: "string" must be a string');
  });

  it("cold starts: five fresh emulators, each init succeeds and is measured", async () => {
    const inits: number[] = [];
    const firstDurations: number[] = [];
    for (let k = 0; k < 5; k++) {
      const fresh = await startEmulator({ rie, ric, taskRoot, memoryMb: 256, timeoutS: 10 });
      try {
        const r = await fresh.invoke({ string: "cold start" });
        expect(JSON.parse(JSON.parse(r.body) as string)).toEqual({ cold: 1, start: 1 });
        const [report] = await fresh.reports(1);
        const init = parseInitReport(fresh.log());
        expect(init, fresh.log()).toBeGreaterThan(0);
        inits.push(init!);
        firstDurations.push(parseReport(report).durationMs);
      } finally {
        await fresh.stop();
      }
    }
    inits.sort((a, b) => a - b);
    firstDurations.sort((a, b) => a - b);
    measured.coldStartInitMsMedianOf5 = inits[2];
    measured.coldStartInitMsAll = inits;
    measured.coldStartFirstInvokeDurationMsMedianOf5 = firstDurations[2];
  });

  it("a 1 MiB text (warm): counts it; the per-invocation duration is measured", async () => {
    const words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"];
    const parts: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 1024 * 1024; i++) {
      const w = `${words[i % words.length]}${i % 1000}`;
      parts.push(w);
      bytes += w.length + 1;
    }
    const text = parts.join(" ");
    const durations: number[] = [];
    const walls: number[] = [];
    for (let k = 0; k < 5; k++) {
      const before = (await emu.reports(0)).length;
      const r = await emu.invoke({ string: text });
      expect(r.status).toBe(200);
      const counts = JSON.parse(JSON.parse(r.body) as string) as Record<string, number>;
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(parts.length);
      const reports = await emu.reports(before + 1);
      const rep = parseReport(reports[before]);
      expect(handlerLog(emu.log(), rep.requestId)).toMatchObject({ level: "info", inputBytes: Buffer.byteLength(text), words: parts.length });
      durations.push(rep.durationMs);
      walls.push(r.wallMs);
    }
    durations.sort((a, b) => a - b);
    walls.sort((a, b) => a - b);
    measured.oneMiBInputBytes = Buffer.byteLength(text);
    measured.oneMiBWords = parts.length;
    measured.oneMiBDurationMsMedian = durations[2];
    measured.oneMiBDurationMsAll = durations;
    measured.oneMiBWallMsMedian = Math.round(walls[2] * 100) / 100;
  });
});
