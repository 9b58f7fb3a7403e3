package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Failures arrive as the matching MlBridgeException, with the server's message. */
@ExtendWith(MlBridgeServerExtension.class)
class ErrorsTest {

  @Test
  void unknownModel(ServerProcess server) {
    try (MlBridgeClient client = server.client()) {
      ModelNotFoundException e =
          assertThrows(
              ModelNotFoundException.class,
              () -> client.xgboost().predict("no-such-model", new float[][] {{1f, 2f, 3f, 4f}}));
      assertEquals(Status.Code.NOT_FOUND, e.getStatusCode());
      assertTrue(e.getMessage().contains("no-such-model"), e.getMessage());
      assertThrows(ModelNotFoundException.class, () -> client.models().get("no-such-model"));
      assertThrows(
          ModelNotFoundException.class,
          () -> client.crf().predict("no-such-model", TestPaths.data("ner_predict.csv")));
      ExecutionException async =
          assertThrows(
              ExecutionException.class,
              () ->
                  client
                      .xgboost()
                      .predictAsync("no-such-model", new float[] {1f, 2f, 3f, 4f}, 1, 4)
                      .get(30, TimeUnit.SECONDS));
      assertTrue(
          async.getCause() instanceof ModelNotFoundException, String.valueOf(async.getCause()));
    }
  }

  @Test
  void malformedCsvNamesTheLine(ServerProcess server, @TempDir Path dir) throws Exception {
    Path csv = dir.resolve("bad.csv");
    Files.writeString(
        csv,
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
            + "5.1,3.5,1.4,0.2,setosa\n"
            + "4.9,three,1.4,0.2,setosa\n"
            + "7.0,3.2,4.7,1.4,versicolor\n");
    try (MlBridgeClient client = server.client()) {
      InvalidInputException e =
          assertThrows(
              InvalidInputException.class,
              () -> client.xgboost().train("bad-iris", csv, XgboostTrainOptions.iris(), null));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatusCode());
      assertTrue(e.getMessage().contains("line 3"), e.getMessage());
      assertThrows(ModelNotFoundException.class, () -> client.models().get("bad-iris"));
    }
  }

  @Test
  void failIfExistsRefusesAStoredName(ServerProcess server) {
    try (MlBridgeClient client = server.client()) {
      client
          .xgboost()
          .train("iris-exists", TestPaths.data("iris.csv"), XgboostTrainOptions.iris(), null);
      XgboostTrainOptions refuse =
          XgboostTrainOptions.builder().preset("iris").failIfExists(true).build();
      ModelExistsException e =
          assertThrows(
              ModelExistsException.class,
              () ->
                  client.xgboost().train("iris-exists", TestPaths.data("iris.csv"), refuse, null));
      assertEquals(Status.Code.ALREADY_EXISTS, e.getStatusCode());
      assertTrue(e.getMessage().contains("iris-exists"), e.getMessage());
    }
  }

  @Test
  void serverDown() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (MlBridgeClient client = MlBridgeClient.builder().address("127.0.0.1:" + port).build()) {
      ServerUnavailableException e =
          assertThrows(ServerUnavailableException.class, () -> client.text().countWords("a b"));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatusCode());
      assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
      assertThrows(
          ServerUnavailableException.class,
          () ->
              client
                  .xgboost()
                  .train("x", TestPaths.data("iris.csv"), XgboostTrainOptions.iris(), null));
    }
  }

  @Test
  void deadlineExceeded(ServerProcess server) throws Exception {
    try (MlBridgeClient client = server.client(b -> b.deadline(Duration.ofMillis(1)))) {
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () ->
                  client
                      .crf()
                      .train(
                          "ner-deadline", TestPaths.data("ner.csv"), CrfTrainOptions.book(), null));
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatusCode());
    }
    try (MlBridgeClient client = server.client()) {
      Thread.sleep(200);
      assertThrows(
          ModelNotFoundException.class,
          () -> client.models().get("ner-deadline"),
          "a cancelled training stores nothing");
    }
  }

  @Test
  void bearerToken() {
    try (ServerProcess secured = ServerProcess.start("--auth-token", "s3cret")) {
      try (MlBridgeClient anonymous = secured.client()) {
        AuthenticationException e =
            assertThrows(AuthenticationException.class, () -> anonymous.text().countWords("a"));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatusCode());
      }
      try (MlBridgeClient wrong = secured.client(b -> b.token("nope"))) {
        assertThrows(AuthenticationException.class, () -> wrong.models().list());
      }
      try (MlBridgeClient client = secured.client(b -> b.token("s3cret"))) {
        assertEquals(1L, client.text().countWords("a").get("a"));
        assertTrue(client.models().list().isEmpty());
      }
    }
  }

  @Test
  void missingLocalFileFailsBeforeAnyCall(ServerProcess server, @TempDir Path dir) {
    try (MlBridgeClient client = server.client()) {
      UncheckedIOException e =
          assertThrows(
              UncheckedIOException.class,
              () -> client.crf().train("x", dir.resolve("missing.csv"), null, null));
      assertTrue(e.getMessage().contains("missing.csv"), e.getMessage());
    }
  }
}
