package dev.mlbridge.client;

import dev.mlbridge.v1.CountWordsRequest;
import dev.mlbridge.v1.CountWordsStreamRequest;
import dev.mlbridge.v1.TextServiceGrpc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The book's word count (TextService): {@link MlBridgeClient#text()}. Words are runs of letters,
 * digits and underscores, case-sensitive; counts come most frequent first (ties by word).
 *
 * <pre>{@code
 * Map<String, Long> counts = client.text().countWords("the cat and the hat");   // {the=2, and=1, cat=1, hat=1}
 * }</pre>
 */
public final class TextClient {
  private final Rpc rpc;
  private final TextServiceGrpc.TextServiceBlockingStub blocking;
  private final TextServiceGrpc.TextServiceStub async;

  TextClient(Rpc rpc) {
    this.rpc = rpc;
    this.blocking = TextServiceGrpc.newBlockingStub(rpc.channel);
    this.async = TextServiceGrpc.newStub(rpc.channel);
  }

  /** Counts the words of {@code text}, most frequent first. */
  public Map<String, Long> countWords(String text) {
    CountWordsRequest request = CountWordsRequest.newBuilder().setText(text).build();
    return rpc.call(() -> sortedCounts(rpc.stub(blocking).countWords(request).getCountsMap()));
  }

  /** {@link #countWords(String)} without blocking; cancelling the future cancels the call. */
  public CompletableFuture<Map<String, Long>> countWordsAsync(String text) {
    return rpc.callAsync(
        rpc.stub(async)::countWords,
        CountWordsRequest.newBuilder().setText(text).build(),
        r -> sortedCounts(r.getCountsMap()));
  }

  /** Counts the words of a UTF-8 text file of any size, streamed in 1 MiB chunks. */
  public Map<String, Long> countWordsInFile(Path file) {
    try (FileChunks chunks = new FileChunks(file, MlBridgeClient.CHUNK_SIZE)) {
      return sortedCounts(
          rpc.upload(
                  rpc.stub(async)::countWordsStream,
                  Rpc.map(chunks, c -> CountWordsStreamRequest.newBuilder().setChunk(c).build()))
              .getCountsMap());
    }
  }

  private static Map<String, Long> sortedCounts(Map<String, Long> counts) {
    List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
    entries.sort(
        Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())
            .thenComparing(Map.Entry.comparingByKey()));
    Map<String, Long> out = new LinkedHashMap<>();
    for (Map.Entry<String, Long> e : entries) {
      out.put(e.getKey(), e.getValue());
    }
    return Collections.unmodifiableMap(out);
  }
}
