package dev.mlbridge.client;

import io.grpc.Status;

/**
 * The call was cancelled before it finished (gRPC CANCELLED): by the caller (an interrupted thread,
 * a cancelled future) or by the server. A cancelled training stores nothing.
 */
public class CancelledException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public CancelledException(String message, Throwable cause) {
    super(Status.Code.CANCELLED, message, cause);
  }
}
