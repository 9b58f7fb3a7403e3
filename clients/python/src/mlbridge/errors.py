"""Exceptions raised by the mlbridge client.

Every failed RPC raises a subclass of :class:`MlBridgeError` carrying the gRPC
status code (``.code``) and the server's message (``.message``). The raw
``grpc.RpcError`` is not chained (errors are raised ``from None``), so a
traceback shows the server's message, not gRPC internals.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc

__all__ = [
    "MlBridgeError",
    "InvalidInputError",
    "ModelNotFoundError",
    "ModelExistsError",
    "ServerUnavailableError",
    "DeadlineExceededError",
    "AuthenticationError",
    "ResourceExhaustedError",
    "CancelledError",
    "from_rpc_error",
]


class MlBridgeError(Exception):
    """An RPC failed. ``code`` is the gRPC status code, ``message`` the server's message."""

    code: grpc.StatusCode
    message: str

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name})"


class InvalidInputError(MlBridgeError, ValueError):
    """The request or its data was rejected (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE).

    The message names the field (``model_name: ...``) or the CSV line (``line 3: ...``).
    """


class ModelNotFoundError(MlBridgeError, LookupError):
    """No model of that name is stored (NOT_FOUND)."""


class ModelExistsError(MlBridgeError):
    """A model of that name exists and ``fail_if_exists`` was set (ALREADY_EXISTS)."""


class ServerUnavailableError(MlBridgeError):
    """The server cannot be reached or is shutting down (UNAVAILABLE)."""


class DeadlineExceededError(MlBridgeError):
    """The call did not finish before its deadline (DEADLINE_EXCEEDED)."""


class AuthenticationError(MlBridgeError):
    """The bearer token is missing or wrong (UNAUTHENTICATED, PERMISSION_DENIED)."""


class ResourceExhaustedError(MlBridgeError):
    """A server limit was hit: message or upload size, concurrent trainings, disk (RESOURCE_EXHAUSTED)."""


class CancelledError(MlBridgeError):
    """The call was cancelled (CANCELLED)."""


_BY_CODE: Dict[grpc.StatusCode, Type[MlBridgeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidInputError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidInputError,
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: ModelExistsError,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: AuthenticationError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.CANCELLED: CancelledError,
}


def from_rpc_error(error: grpc.RpcError, address: Optional[str] = None) -> MlBridgeError:
    """Converts a ``grpc.RpcError`` (a failed call) into the matching :class:`MlBridgeError`."""
    code_fn = getattr(error, "code", None)
    details_fn = getattr(error, "details", None)
    code = code_fn() if callable(code_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details = details_fn() if callable(details_fn) else None
    message = str(details) if details else code.name
    if code is grpc.StatusCode.UNAVAILABLE and address:
        message = f"mlbridge server at {address} is unavailable: {message}"
    return _BY_CODE.get(code, MlBridgeError)(message, code)
