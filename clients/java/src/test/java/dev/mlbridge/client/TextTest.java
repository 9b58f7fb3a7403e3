package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The book's word count, served over gRPC. */
@ExtendWith(MlBridgeServerExtension.class)
class TextTest {
  private static final String TEXT = "the cat and the hat; The end_of it, the 2nd time";

  @Test
  void countWords(ServerProcess server) {
    try (MlBridgeClient client = server.client()) {
      Map<String, Long> counts = client.text().countWords(TEXT);
      assertEquals(3L, counts.get("the"));
      assertEquals(1L, counts.get("The"));
      assertEquals(1L, counts.get("end_of"));
      assertEquals(1L, counts.get("2nd"));
      assertEquals("the", counts.keySet().iterator().next(), "most frequent first");
      assertEquals(11L, counts.values().stream().mapToLong(Long::longValue).sum());
    }
  }

  @Test
  void countWordsAsyncAndStreamedAgree(ServerProcess server, @TempDir Path dir) throws Exception {
    Path file = dir.resolve("text.txt");
    Files.writeString(file, TEXT);
    try (MlBridgeClient client = server.client()) {
      Map<String, Long> direct = client.text().countWords(TEXT);
      assertEquals(direct, client.text().countWordsAsync(TEXT).get(30, TimeUnit.SECONDS));
      assertEquals(direct, client.text().countWordsInFile(file));
      assertEquals(
          List.copyOf(direct.keySet()), List.copyOf(client.text().countWordsInFile(file).keySet()));
    }
  }

  @Test
  void emptyTextIsInvalid(ServerProcess server) {
    try (MlBridgeClient client = server.client()) {
      InvalidInputException e =
          assertThrows(InvalidInputException.class, () -> client.text().countWords(""));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatusCode());
      assertTrue(e.getMessage().contains("Empty input string"), e.getMessage());
      ExecutionException async =
          assertThrows(
              ExecutionException.class,
              () -> client.text().countWordsAsync("").get(30, TimeUnit.SECONDS));
      assertTrue(
          async.getCause() instanceof InvalidInputException, String.valueOf(async.getCause()));
    }
  }

  @Test
  void clientOverAnExistingChannel(ServerProcess server) {
    try (MlBridgeClient client =
        new MlBridgeClient(
            ManagedChannelBuilder.forTarget(server.address()).usePlaintext().build())) {
      assertEquals(2L, client.text().countWords("a b a").get("a"));
    }
  }
}
