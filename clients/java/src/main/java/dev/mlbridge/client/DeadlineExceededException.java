package dev.mlbridge.client;

import io.grpc.Status;

/** The call did not finish within its deadline (gRPC DEADLINE_EXCEEDED). */
public class DeadlineExceededException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public DeadlineExceededException(String message, Throwable cause) {
    super(Status.Code.DEADLINE_EXCEEDED, message, cause);
  }
}
