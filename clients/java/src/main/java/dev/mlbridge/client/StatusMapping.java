package dev.mlbridge.client;

import io.grpc.Status;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The one place where gRPC failures become {@link MlBridgeException}s. The status → class table is
 * the clients' shared one, {@code clients/errors.json} ({@code StatusMappingTableTest} checks this
 * class against it): codes it does not list are the base class.
 */
final class StatusMapping {
  private StatusMapping() {}

  /**
   * Maps a failure of a call to {@code target} to the matching exception. An {@link
   * MlBridgeException} (or a wrapper of one) is returned as it is.
   */
  static MlBridgeException map(Throwable failure, String target) {
    Throwable t = unwrap(failure);
    if (t instanceof MlBridgeException) {
      return (MlBridgeException) t;
    }
    Status status = Status.fromThrowable(t);
    Status.Code code = status.getCode();
    String description = status.getDescription();
    String message = description == null || description.isBlank() ? code.name() : description;
    switch (code) {
      case INVALID_ARGUMENT:
      case FAILED_PRECONDITION:
      case OUT_OF_RANGE:
        return new InvalidInputException(code, message, t);
      case NOT_FOUND:
        return new ModelNotFoundException(message, t);
      case ALREADY_EXISTS:
        return new ModelExistsException(message, t);
      case UNAVAILABLE:
        {
          Throwable cause = status.getCause();
          String why =
              cause != null && cause.getMessage() != null
                  ? message + " (" + cause.getMessage() + ")"
                  : message;
          return new ServerUnavailableException(
              "mlbridge server at " + target + " is unavailable: " + why, t);
        }
      case DEADLINE_EXCEEDED:
        return new DeadlineExceededException(message, t);
      case UNAUTHENTICATED:
      case PERMISSION_DENIED:
        return new AuthenticationException(code, message, t);
      case RESOURCE_EXHAUSTED:
        return new ResourceExhaustedException(message, t);
      case CANCELLED:
        return new CancelledException(message, t);
      case UNKNOWN:
        if (status.getCause() != null && description == null) {
          return new MlBridgeException(code, String.valueOf(status.getCause()), t);
        }
        return new MlBridgeException(code, message, t);
      default:
        return new MlBridgeException(code, message, t);
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof ExecutionException || t instanceof CompletionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof CancellationException) {
      return Status.CANCELLED
          .withDescription("cancelled by the caller")
          .withCause(t)
          .asRuntimeException();
    }
    return t;
  }
}
