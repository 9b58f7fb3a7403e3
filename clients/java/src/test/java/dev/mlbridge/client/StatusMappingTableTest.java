package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link StatusMapping} follows the clients' one status → exception table, {@code
 * clients/errors.json} (which the Python client's tests check too): for every gRPC status code,
 * exactly the class it names ({@code <Name>Exception}), or {@link MlBridgeException} itself for
 * codes it does not list. No server needed.
 */
class StatusMappingTableTest {

  @Test
  void everyStatusCodeMapsToTheClassOfTheTable() throws Exception {
    Map<String, String> table = table();
    assertFalse(table.isEmpty(), "the table lists codes");
    for (String code : table.keySet()) {
      Status.Code.valueOf(code); // a listed code that gRPC does not know fails here
    }
    for (Status.Code code : Status.Code.values()) {
      String name = table.get(code.name());
      Class<?> expected =
          name == null
              ? MlBridgeException.class
              : Class.forName("dev.mlbridge.client." + name + "Exception");
      assertTrue(
          MlBridgeException.class.isAssignableFrom(expected),
          expected + " extends MlBridgeException");
      MlBridgeException e =
          StatusMapping.map(code.toStatus().withDescription("x").asRuntimeException(), "addr");
      assertSame(
          expected,
          e.getClass(),
          code
              + " → "
              + e.getClass().getSimpleName()
              + ", the table says "
              + expected.getSimpleName());
      assertEquals(code, e.getStatusCode(), "the status code is kept");
      assertTrue(e.getMessage().contains("x"), code + ": the server's message: " + e.getMessage());
    }
  }

  /** {@code clients/errors.json}: status code name → error class name, without its comment. */
  private static Map<String, String> table() throws IOException {
    Path file = TestPaths.repo().resolve("clients").resolve("errors.json");
    Map<String, String> table =
        new FlatJsonObject(Files.readString(file, StandardCharsets.UTF_8)).read();
    table.keySet().removeIf(k -> k.startsWith("//"));
    return table;
  }

  /** A strict reader of a JSON object whose values are all strings (what errors.json is). */
  private static final class FlatJsonObject {
    private final String text;
    private int pos;

    FlatJsonObject(String text) {
      this.text = text;
    }

    Map<String, String> read() {
      Map<String, String> out = new LinkedHashMap<>();
      expect('{');
      if (peek() == '}') {
        pos++;
      } else {
        do {
          String key = string();
          expect(':');
          if (out.put(key, string()) != null) {
            throw error("duplicate key \"" + key + "\"");
          }
        } while (consume(','));
        expect('}');
      }
      if (peek() != 0) {
        throw error("text after the object");
      }
      return out;
    }

    private String string() {
      expect('"');
      StringBuilder s = new StringBuilder();
      while (true) {
        if (pos >= text.length()) {
          throw error("unterminated string");
        }
        char c = text.charAt(pos++);
        if (c == '"') {
          return s.toString();
        }
        if (c != '\\') {
          s.append(c);
          continue;
        }
        char e = text.charAt(pos++);
        switch (e) {
          case '"', '\\', '/' -> s.append(e);
          case 'b' -> s.append('\b');
          case 'f' -> s.append('\f');
          case 'n' -> s.append('\n');
          case 'r' -> s.append('\r');
          case 't' -> s.append('\t');
          case 'u' -> {
            s.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
            pos += 4;
          }
          default -> throw error("bad escape \\" + e);
        }
      }
    }

    private char peek() {
      while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
        pos++;
      }
      return pos < text.length() ? text.charAt(pos) : 0;
    }

    private boolean consume(char c) {
      if (peek() == c) {
        pos++;
        return true;
      }
      return false;
    }

    private void expect(char c) {
      if (!consume(c)) {
        throw error("expected '" + c + "'");
      }
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException("errors.json, offset " + pos + ": " + what);
    }
  }
}
