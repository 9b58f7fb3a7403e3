import { status, type ServiceDefinition } from "@grpc/grpc-js";

/** What a request deserializer returns instead of throwing: see `safeDecoding`. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/**
 * The service with deserializers that do not throw. grpc-js answers a request
 * that fails to decode (a varint past 2^53 for an int64 field, truncated
 * bytes) with INTERNAL "Error deserializing request", though the fault is the
 * caller's; here the failure travels as a value, which `undecodable` turns
 * into INVALID_ARGUMENT.
 */
export function safeDecoding<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest((err as Error)?.message ?? String(err));
        }
      },
    };
  }
  return out as S;
}

/**
 * The status for a request message that did not decode (see `safeDecoding`),
 * or undefined for a decoded one. The observe interceptor checks every
 * message with it (one interceptor less on the request path).
 */
export function undecodable(message: unknown, methodPath: string): { code: status; details: string } | undefined {
  if (!(message instanceof UndecodableRequest)) return undefined;
  const reason = message.reason.length > 200 ? `${message.reason.slice(0, 200)}…` : message.reason;
  return { code: status.INVALID_ARGUMENT, details: `request: not a valid ${methodPath} message: ${reason}` };
}
