package dev.mlbridge.client;

import io.grpc.Status;

/**
 * A model of that name is already stored and the call asked not to replace it, e.g. a training with
 * {@code failIfExists} (gRPC ALREADY_EXISTS).
 */
public class ModelExistsException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public ModelExistsException(String message, Throwable cause) {
    super(Status.Code.ALREADY_EXISTS, message, cause);
  }
}
