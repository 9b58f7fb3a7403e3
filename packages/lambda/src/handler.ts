/**
 * The book's AWS Lambda word count ("Rust in the cloud"), on the Node.js 20
 * managed runtime.
 *
 * - Direct invocation, the book's event `{"string": "..."}`: the result is the
 *   JSON string mapping each word (Rust regex `\w+`) to its count. An empty or
 *   missing `string` fails with the error message `Empty input string` after
 *   logging `Empty string in request <aws_request_id>`, as the book does.
 * - API Gateway (REST v1, HTTP v2) or Function URL proxy event whose body is
 *   that JSON: the answer is an HTTP response, 200 with the counts, or 400 with
 *   `{"error": "..."}`.
 *
 * One structured JSON log line per invocation goes to stdout.
 *
 * Only `@mlbridge/core/text` is imported: the bundle must not load the native addon.
 */
import { countWords, countsToObject, InvalidInputError } from "@mlbridge/core/text";

/** The fields of the Lambda context this handler uses. */
export interface LambdaContext {
  awsRequestId: string;
  functionName?: string;
}

/** The book's event. */
export interface WordCountEvent {
  string?: unknown;
}

/** An API Gateway (v1 REST, v2 HTTP) or Function URL proxy event: the fields read here. */
export interface ProxyEvent {
  requestContext: Record<string, unknown>;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** The proxy answer. */
export interface ProxyResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const EMPTY_INPUT = "Empty input string";
export const NOT_A_STRING = 'Invalid input: "string" must be a string';

interface Counted {
  json: string;
  inputBytes: number;
  words: number;
  distinctWords: number;
}

/** Validates the book's event and counts its words; throws InvalidInputError on bad input. */
function countEvent(event: unknown): Counted {
  if (event === null || event === undefined) throw new InvalidInputError(EMPTY_INPUT);
  if (typeof event !== "object" || Array.isArray(event)) {
    throw new InvalidInputError("Invalid input: the event must be a JSON object");
  }
  const text = (event as WordCountEvent).string;
  if (text === undefined || text === null || text === "") throw new InvalidInputError(EMPTY_INPUT);
  if (typeof text !== "string") throw new InvalidInputError(NOT_A_STRING);
  const counts = countWords(text);
  let words = 0;
  for (const n of counts.values()) words += n;
  return {
    json: JSON.stringify(countsToObject(counts)),
    inputBytes: Buffer.byteLength(text, "utf8"),
    words,
    distinctWords: counts.size,
  };
}

/** True for an API Gateway / Function URL proxy event. */
export function isProxyEvent(event: unknown): event is ProxyEvent {
  return (
    typeof event === "object" &&
    event !== null &&
    !Array.isArray(event) &&
    typeof (event as { requestContext?: unknown }).requestContext === "object" &&
    (event as { requestContext?: unknown }).requestContext !== null &&
    "body" in event
  );
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The proxy body as the book's event; throws InvalidInputError naming the problem. */
function parseProxyBody(event: ProxyEvent): { parsed: unknown; bodyBytes: number } {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === "") throw new InvalidInputError(EMPTY_INPUT);
  if (typeof raw !== "string") throw new InvalidInputError("Invalid request body: not a string");
  let text = raw;
  let bodyBytes: number;
  if (event.isBase64Encoded) {
    const bytes = Buffer.from(raw, "base64");
    bodyBytes = bytes.length;
    try {
      text = UTF8.decode(bytes);
    } catch {
      throw new InvalidInputError("Invalid request body: not valid UTF-8");
    }
  } else {
    bodyBytes = Buffer.byteLength(raw, "utf8");
  }
  try {
    return { parsed: JSON.parse(text), bodyBytes };
  } catch (err) {
    throw new InvalidInputError(`Invalid JSON body: ${(err as Error).message}`);
  }
}

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

function errorLog(kind: "direct" | "proxy", requestId: string, start: number, err: unknown, inputBytes: number | undefined): void {
  const error = err instanceof Error ? err.message : String(err);
  log({
    level: "error",
    requestId,
    kind,
    // The book's log line: `Empty string in request <aws_request_id>`.
    msg: error === EMPTY_INPUT ? `Empty string in request ${requestId}` : `Invalid input in request ${requestId}`,
    error,
    errorType: err instanceof Error ? err.name : typeof err,
    inputBytes,
    durationMs: elapsed(start),
  });
}

function jsonResponse(statusCode: number, body: string): ProxyResult {
  return { statusCode, headers: { "content-type": "application/json" }, body };
}

/**
 * The Lambda handler (`index.handler` in the bundle).
 * @returns the counts' JSON string for the book's event, or an HTTP response for a proxy event.
 * @throws Error "Empty input string" for the book's event without text, or another InvalidInputError.
 */
export const handler = async (event: unknown, context: LambdaContext): Promise<string | ProxyResult> => {
  const start = performance.now();
  const requestId = context?.awsRequestId ?? "unknown";

  if (isProxyEvent(event)) {
    let bodyBytes: number | undefined;
    try {
      const body = parseProxyBody(event);
      bodyBytes = body.bodyBytes;
      const c = countEvent(body.parsed);
      log({ level: "info", requestId, kind: "proxy", inputBytes: c.inputBytes, words: c.words, distinctWords: c.distinctWords, durationMs: elapsed(start) });
      return jsonResponse(200, c.json);
    } catch (err) {
      errorLog("proxy", requestId, start, err, bodyBytes);
      if (err instanceof InvalidInputError) return jsonResponse(400, JSON.stringify({ error: err.message }));
      throw err;
    }
  }

  try {
    const c = countEvent(event);
    log({ level: "info", requestId, kind: "direct", inputBytes: c.inputBytes, words: c.words, distinctWords: c.distinctWords, durationMs: elapsed(start) });
    return c.json;
  } catch (err) {
    const text = (event as WordCountEvent | null | undefined)?.string;
    errorLog("direct", requestId, start, err, typeof text === "string" ? Buffer.byteLength(text, "utf8") : undefined);
    throw err;
  }
};
