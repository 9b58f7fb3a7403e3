package dev.mlbridge.client;

import io.grpc.Status;

/** The server could not be reached, or went away during the call (gRPC UNAVAILABLE). */
public class ServerUnavailableException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public ServerUnavailableException(String message, Throwable cause) {
    super(Status.Code.UNAVAILABLE, message, cause);
  }
}
