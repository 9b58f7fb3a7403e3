package dev.mlbridge.client;

import io.grpc.Status;

/** The named model is not in the server's store (gRPC NOT_FOUND). */
public class ModelNotFoundException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public ModelNotFoundException(String message, Throwable cause) {
    super(Status.Code.NOT_FOUND, message, cause);
  }
}
