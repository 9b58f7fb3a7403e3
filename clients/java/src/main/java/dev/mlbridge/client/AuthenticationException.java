package dev.mlbridge.client;

import io.grpc.Status;

/**
 * The server refused the caller: no or wrong bearer token (gRPC UNAUTHENTICATED) or not allowed
 * (PERMISSION_DENIED).
 */
public class AuthenticationException extends MlBridgeException {
  private static final long serialVersionUID = 1L;

  public AuthenticationException(Status.Code statusCode, String message, Throwable cause) {
    super(statusCode, message, cause);
  }
}
