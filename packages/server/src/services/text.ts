import type { ServerReadableStream } from "@grpc/grpc-js";
import { countsToObject, countWords, WordCounter } from "@mlbridge/core/text";
import type {
  CountWordsRequest,
  CountWordsResponse,
  CountWordsStreamRequest,
  CountWordsStreamResponse,
  TextServiceServer,
} from "../generated/mlbridge/v1/text_service";
import { clientStream, messages, unary } from "../calls";
import type { ServiceContext } from "../context";
import { statusError } from "../errors";
import { status } from "@grpc/grpc-js";

/** TextService: the book's word count, in one message or streamed. */
export function textService(ctx: ServiceContext): TextServiceServer {
  const { log, config } = ctx;
  return {
    countWords: unary(log, (req: CountWordsRequest): CountWordsResponse => {
      const counts = countWords(req.text);
      let total = 0;
      for (const v of counts.values()) total += v;
      return { counts: countsToObject(counts), totalWords: total };
    }),
    countWordsStream: clientStream(log, async (call: ServerReadableStream<CountWordsStreamRequest, CountWordsStreamResponse>) => {
      const wc = new WordCounter();
      for await (const msg of messages<CountWordsStreamRequest>(call)) {
        wc.push(msg.chunk);
        if (wc.totalBytes > config.maxUploadBytes)
          throw statusError(status.RESOURCE_EXHAUSTED, `the text exceeds the server's limit of ${config.maxUploadBytes} bytes`);
      }
      const counts = wc.finish();
      return { counts: countsToObject(counts), totalWords: wc.totalWords, totalBytes: wc.totalBytes };
    }),
  };
}
