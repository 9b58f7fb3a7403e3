package dev.mlbridge.client;

import io.grpc.Status;

/**
 * The server rejected the request's data or options (gRPC INVALID_ARGUMENT, FAILED_PRECONDITION or
 * OUT_OF_RANGE); the message names the field or the CSV line, e.g. {@code line 3: ...}.
 */
public class InvalidInputException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(Status.Code statusCode, String message, Throwable cause) {
    super(statusCode, message, cause);
  }

  public InvalidInputException(String message, Throwable cause) {
    this(Status.Code.INVALID_ARGUMENT, message, cause);
  }
}
