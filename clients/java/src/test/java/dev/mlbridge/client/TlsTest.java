package dev.mlbridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS with a self-signed certificate that the client is told to trust, plus a bearer token. */
class TlsTest {

  @Test
  void trustedSelfSignedCertificate(@TempDir Path dir) throws Exception {
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    Process openssl =
        new ProcessBuilder(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key.toString(),
                "-out",
                cert.toString(),
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("openssl.log").toFile())
            .start();
    assertEquals(true, openssl.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, openssl.exitValue(), "openssl failed");

    try (ServerProcess server =
        ServerProcess.start(
            "--tls-cert",
            cert.toString(),
            "--tls-key",
            key.toString(),
            "--auth-token",
            "tls-token")) {
      try (MlBridgeClient client =
          server.client(b -> b.trustCertificates(cert).token("tls-token"))) {
        assertEquals(2L, client.text().countWords("x y x").get("x"));
      }
      // A plaintext client cannot talk to a TLS server.
      try (MlBridgeClient plaintext = server.client(b -> b.token("tls-token"))) {
        assertThrows(MlBridgeException.class, () -> plaintext.text().countWords("x"));
      }
      // The JVM's default trust store does not trust a self-signed certificate.
      try (MlBridgeClient untrusted = server.client(b -> b.tls().token("tls-token"))) {
        assertThrows(ServerUnavailableException.class, () -> untrusted.text().countWords("x"));
      }
    }
  }
}
