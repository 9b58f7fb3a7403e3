package dev.mlbridge.client;

import io.grpc.Status;

/**
 * A failed call to the mlbridge server. The message is the server's own (for example {@code model
 * 'x' not found} or {@code training data line 3, column "sepal_width": ...}); {@link
 * #getStatusCode()} is the gRPC status code. Subclasses name the common cases; {@link
 * StatusMapping} is the one place that chooses between them.
 */
public class MlBridgeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code statusCode;

  public MlBridgeException(Status.Code statusCode, String message, Throwable cause) {
    super(message, cause);
    this.statusCode = statusCode;
  }

  public MlBridgeException(Status.Code statusCode, String message) {
    this(statusCode, message, null);
  }

  /** The gRPC status code of the failure. */
  public Status.Code getStatusCode() {
    return statusCode;
  }
}
