"""The channel, stubs and call options shared by the service wrappers."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, Generic, Iterable, Iterator, Optional, Tuple, TypeVar

import grpc

from mlbridge._proto.mlbridge.v1 import (
    crf_service_pb2_grpc,
    model_service_pb2_grpc,
    text_service_pb2_grpc,
    xgboost_service_pb2_grpc,
)
from mlbridge.errors import MlBridgeError, from_rpc_error

Req = TypeVar("Req")
Res = TypeVar("Res")
T = TypeVar("T")


class Stubs:
    """The service stubs over one channel (synchronous or grpc.aio) and the per-call options
    (deadline, metadata) of one client."""

    def __init__(
        self,
        channel: Any,
        address: str,
        metadata: Tuple[Tuple[str, str], ...],
        timeout: Optional[float],
    ) -> None:
        self.channel = channel
        self.address = address
        self.metadata = metadata
        self.timeout = timeout
        self.crf = crf_service_pb2_grpc.CrfServiceStub(channel)
        self.xgboost = xgboost_service_pb2_grpc.XgboostServiceStub(channel)
        self.text = text_service_pb2_grpc.TextServiceStub(channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(channel)

    def options(self) -> Dict[str, Any]:
        """Keyword arguments of every call: deadline and metadata."""
        kw: Dict[str, Any] = {"metadata": self.metadata}
        if self.timeout is not None:
            kw["timeout"] = self.timeout
        return kw


class Rpc(Stubs):
    """The stubs plus the synchronous calls, errors mapped to mlbridge.errors."""

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turns a grpc.RpcError raised inside into the matching MlBridgeError (``from None``)."""
        try:
            yield
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None

    def unary(self, method: Callable[..., Res], request: Any) -> Res:
        with self.errors():
            return method(request, **self.options())

    def stream_unary(self, method: Callable[..., Res], requests: Iterable[Any]) -> Res:
        stream = RequestStream(requests)
        future = method.future(stream, **self.options())  # type: ignore[attr-defined]
        stream.attach(future)
        try:
            with self.errors():
                result: Res = future.result()
                return result
        except MlBridgeError:
            if stream.error is not None:
                raise stream.error from None
            raise
        except BaseException:
            future.cancel()
            raise

    def server_stream(self, method: Callable[..., Any], request: Any) -> Iterator[Any]:
        call = method(request, **self.options())
        try:
            with self.errors():
                for msg in call:  # noqa: UP028 - not `yield from`: closing this generator must not close grpc's iterator
                    yield msg
        finally:
            call.cancel()

    def bidi(self, method: Callable[..., Any], requests: Iterable[Any]) -> Iterator[Any]:
        """Runs a bidi call and yields its responses; cancels the call if the caller stops early.

        An exception raised by ``requests`` cancels the call and is re-raised here.
        """
        stream = RequestStream(requests)
        call = method(stream, **self.options())
        stream.attach(call)
        try:
            try:
                with self.errors():
                    for msg in call:  # noqa: UP028 - as in server_stream
                        yield msg
            except MlBridgeError:
                if stream.error is not None:
                    raise stream.error from None
                raise
            if stream.error is not None:
                raise stream.error
        finally:
            call.cancel()  # no-op once the call has finished


class RequestStream(Generic[T]):
    """Wraps a request iterator for a streaming call.

    If the source raises (a read error, a bad value in the caller's sequences),
    the exception is kept, the call is cancelled (so the server does not act on
    partial data) and the caller re-raises it instead of gRPC's CANCELLED.
    """

    def __init__(self, source: Iterable[T]) -> None:
        self._source = iter(source)
        self._call: Optional[grpc.RpcContext] = None
        self._attached = threading.Event()
        self.error: Optional[BaseException] = None

    def attach(self, call: grpc.RpcContext) -> None:
        self._call = call
        self._attached.set()

    def __iter__(self) -> RequestStream[T]:
        return self

    def __next__(self) -> T:
        if self.error is not None:
            raise StopIteration
        try:
            return next(self._source)
        except StopIteration:
            raise
        except BaseException as e:  # noqa: BLE001 - handed back to the caller's thread
            self.error = e
            self._attached.wait(30)
            if self._call is not None:
                self._call.cancel()
            raise StopIteration from None
