import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { handler, isProxyEvent, type ProxyResult } from "../src/handler";

const ctx = (awsRequestId = "req-0001") => ({ awsRequestId, functionName: "wordcount" });

/** The JSON log lines written through console.log during the test. */
let logSpy: MockInstance<(...args: unknown[]) => void>;
const logLines = (): Record<string, unknown>[] => logSpy.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);

beforeEach(() => {
  logSpy = vi.spyOn(console, "log").mockImplementation(() => {});
});
afterEach(() => {
  logSpy.mockRestore();
});

/** An API Gateway REST (payload v1) proxy event. */
function restEvent(body: string | null, isBase64Encoded = false) {
  return {
    resource: "/wordcount",
    path: "/wordcount",
    httpMethod: "POST",
    headers: { "content-type": "application/json" },
    multiValueHeaders: {},
    queryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { requestId: "apigw-1", stage: "prod", httpMethod: "POST", path: "/prod/wordcount" },
    body,
    isBase64Encoded,
  };
}

/** An HTTP API (payload v2) or Function URL event. */
function httpEvent(body: string | undefined, isBase64Encoded = false) {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/",
    rawQueryString: "",
    headers: { "content-type": "application/json" },
    requestContext: {
      accountId: "anonymous",
      apiId: "abcdefgh",
      domainName: "abcdefgh.lambda-url.us-east-1.on.aws",
      http: { method: "POST", path: "/", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: "url-1",
      routeKey: "$default",
      stage: "$default",
      time: "27/Nov/2026:03:00:00 +0000",
      timeEpoch: 0,
    },
    body,
    isBase64Encoded,
  };
}

describe("book event {string}", () => {
  it("returns the JSON string of the word counts", async () => {
    const out = await handler({ string: "the cat and the hat and the bat" }, ctx());
    expect(typeof out).toBe("string");
    expect(JSON.parse(out as string)).toEqual({ the: 3, cat: 1, and: 2, hat: 1, bat: 1 });
  });

  it("counts words as Rust's \\w+ does: case-sensitive, digits and _ inside words, punctuation splits", async () => {
    const out = await handler({ string: "Hello, hello! snake_case x2 x2 -- it's 3.14" }, ctx());
    expect(JSON.parse(out as string)).toEqual({ Hello: 1, hello: 1, snake_case: 1, x2: 2, it: 1, s: 1, "3": 1, "14": 1 });
  });

  it("writes one info log line with the request id and the counts", async () => {
    await handler({ string: "a b a" }, ctx("req-info"));
    const lines = logLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", requestId: "req-info", inputBytes: 5, words: 3, distinctWords: 2 });
    expect(typeof lines[0].durationMs).toBe("number");
  });

  it("a text of only punctuation has no words: {}", async () => {
    expect(await handler({ string: " ,.;!? " }, ctx())).toBe("{}");
  });

  it("keeps a word named __proto__ as a plain key", async () => {
    const out = await handler({ string: "__proto__ constructor __proto__" }, ctx());
    expect(out).toBe('{"__proto__":2,"constructor":1}');
  });
});

describe("book event errors", () => {
  it("an empty string fails with 'Empty input string' and logs the request id", async () => {
    await expect(handler({ string: "" }, ctx("req-empty"))).rejects.toThrow(
      expect.objectContaining({ message: "Empty input string", name: "InvalidInputError" }),
    );
    const lines = logLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "error",
      requestId: "req-empty",
      msg: "Empty string in request req-empty",
      error: "Empty input string",
    });
  });

  it("a missing (or null) string fails with 'Empty input string'", async () => {
    await expect(handler({}, ctx("req-missing"))).rejects.toThrow(/^Empty input string$/);
    await expect(handler({ string: null }, ctx())).rejects.toThrow(/^Empty input string$/);
    await expect(handler(null, ctx())).rejects.toThrow(/^Empty input string$/);
    expect(logLines()[0]).toMatchObject({ level: "error", requestId: "req-missing" });
  });

  it("a non-string string fails with a message naming the field", async () => {
    for (const value of [42, true, ["a"], { a: 1 }]) {
      await expect(handler({ string: value }, ctx("req-type"))).rejects.toThrow('Invalid input: "string" must be a string');
    }
    expect(logLines().every((l) => l.level === "error" && l.requestId === "req-type")).toBe(true);
  });

  it("an event that is not an object fails", async () => {
    await expect(handler("just text", ctx())).rejects.toThrow("Invalid input: the event must be a JSON object");
    await expect(handler([1, 2], ctx())).rejects.toThrow("Invalid input: the event must be a JSON object");
  });
});

describe("proxy events (API Gateway v1/v2, Function URL)", () => {
  it("recognises proxy events but not the book's event", () => {
    expect(isProxyEvent(restEvent("{}"))).toBe(true);
    expect(isProxyEvent(httpEvent("{}"))).toBe(true);
    expect(isProxyEvent({ string: "a" })).toBe(false);
    expect(isProxyEvent({ string: "a", requestContext: null, body: "x" })).toBe(false);
  });

  it("REST API (v1): 200 with the counts as the JSON body", async () => {
    const out = (await handler(restEvent(JSON.stringify({ string: "to be or not to be" })), ctx("req-v1"))) as ProxyResult;
    expect(out.statusCode).toBe(200);
    expect(out.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(out.body)).toEqual({ to: 2, be: 2, or: 1, not: 1 });
    expect(logLines()[0]).toMatchObject({ level: "info", requestId: "req-v1", kind: "proxy", words: 6, distinctWords: 4 });
  });

  it("HTTP API / Function URL (v2) with a base64 body", async () => {
    const body = Buffer.from(JSON.stringify({ string: "ça va, ça va" }), "utf8").toString("base64");
    const out = (await handler(httpEvent(body, true), ctx("req-v2"))) as ProxyResult;
    expect(out.statusCode).toBe(200);
    expect(JSON.parse(out.body)).toEqual({ ça: 2, va: 2 });
  });

  it("empty string, missing field or no body: 400 Empty input string, logged at error level", async () => {
    for (const event of [restEvent(JSON.stringify({ string: "" })), httpEvent(JSON.stringify({})), httpEvent(undefined), restEvent(null)]) {
      const out = (await handler(event, ctx("req-400"))) as ProxyResult;
      expect(out.statusCode).toBe(400);
      expect(out.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(out.body)).toEqual({ error: "Empty input string" });
    }
    const lines = logLines();
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => l.level === "error" && l.requestId === "req-400")).toBe(true);
    expect(lines[0].msg).toBe("Empty string in request req-400");
  });

  it("a non-string field: 400 naming it", async () => {
    const out = (await handler(httpEvent(JSON.stringify({ string: 7 })), ctx())) as ProxyResult;
    expect(out.statusCode).toBe(400);
    expect(JSON.parse(out.body)).toEqual({ error: 'Invalid input: "string" must be a string' });
  });

  it("an invalid JSON body: 400 naming the problem", async () => {
    const out = (await handler(restEvent('{"string": "abc'), ctx("req-json"))) as ProxyResult;
    expect(out.statusCode).toBe(400);
    const { error } = JSON.parse(out.body) as { error: string };
    expect(error).toMatch(/^Invalid JSON body: /);
    expect(logLines()[0]).toMatchObject({ level: "error", requestId: "req-json", error });
  });

  it("a JSON body that is not an object: 400", async () => {
    const out = (await handler(httpEvent("[1,2,3]"), ctx())) as ProxyResult;
    expect(out.statusCode).toBe(400);
    expect(JSON.parse(out.body)).toEqual({ error: "Invalid input: the event must be a JSON object" });
  });

  it("a base64 body that is not UTF-8: 400", async () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64");
    const out = (await handler(httpEvent(body, true), ctx())) as ProxyResult;
    expect(out.statusCode).toBe(400);
    expect(JSON.parse(out.body)).toEqual({ error: "Invalid request body: not valid UTF-8" });
  });
});

describe("large and Unicode input", () => {
  it("counts a 5 MiB text", async () => {
    const vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    const parts: string[] = [];
    let bytes = 0;
    let i = 0;
    while (bytes < 5 * 1024 * 1024) {
      const w = vocab[i % vocab.length];
      parts.push(w);
      bytes += w.length + 1;
      i++;
    }
    const text = parts.join(" ");
    const out = await handler({ string: text }, ctx("req-big"));
    const counts = JSON.parse(out as string) as Record<string, number>;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(i);
    for (const [k, w] of vocab.entries()) expect(counts[w]).toBe(Math.floor(i / vocab.length) + (k < i % vocab.length ? 1 : 0));
    expect(logLines()[0]).toMatchObject({ requestId: "req-big", inputBytes: Buffer.byteLength(text), words: i, distinctWords: 8 });
  });

  it("counts Unicode words like Rust's \\w (letters, marks, digits in any script)", async () => {
    const text = "héllo wörld héllo 日本語 😀 naïve e\u0301cole Привет привет مرحبا ٣٤ straße";
    const out = await handler({ string: text }, ctx());
    expect(JSON.parse(out as string)).toEqual({
      héllo: 2,
      wörld: 1,
      日本語: 1,
      naïve: 1,
      "e\u0301cole": 1,
      Привет: 1,
      привет: 1,
      مرحبا: 1,
      "٣٤": 1,
      straße: 1,
    });
    expect(logLines()[0]).toMatchObject({ inputBytes: Buffer.byteLength(text, "utf8"), words: 11, distinctWords: 10 });
  });
});
