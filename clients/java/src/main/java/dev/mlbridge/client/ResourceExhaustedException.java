package dev.mlbridge.client;

import io.grpc.Status;

/**
 * The server is at one of its limits: too many trainings running at once, or an upload larger than
 * it accepts (gRPC RESOURCE_EXHAUSTED). The message says which; a training refused for lack of a
 * slot may succeed when retried later.
 */
public class ResourceExhaustedException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public ResourceExhaustedException(String message, Throwable cause) {
    super(Status.Code.RESOURCE_EXHAUSTED, message, cause);
  }
}
