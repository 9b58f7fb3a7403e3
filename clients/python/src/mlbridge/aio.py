"""The asyncio client: :class:`mlbridge.Client`'s surface over ``grpc.aio``.

Requests and results are built by the same code as the synchronous client's
(one implementation of each conversion); only the calls are awaited::

    import asyncio
    from mlbridge.aio import Client

    async def main() -> None:
        async with Client("localhost:50051") as c:
            async for event in c.xgboost.training("iris", "data/iris.csv", preset="iris"):
                print(event)                      # TrainProgress ..., then the XgboostTrainReport
            print(await c.xgboost.predict("iris", [[5.1, 3.5, 1.4, 0.2]]))
            print(await asyncio.gather(*(c.text.count_words(t) for t in ["a b a", "c"])))

    asyncio.run(main())

Errors are the same :mod:`mlbridge.errors` classes. Cancelling the task that
awaits a call (or leaving an ``async for`` over a training early) cancels the
call on the server, which then stores nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, AsyncIterator, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import grpc
import grpc.aio

from mlbridge._client import Certificates, connection
from mlbridge._crf import tag_request, tag_result
from mlbridge._crf import train_requests as crf_train_requests
from mlbridge._data import CrfTrainReport, ModelInfo, PredictResult, TaggedSequence, TrainProgress, XgboostTrainReport
from mlbridge._files import PathLike, read_local
from mlbridge._models import _kind
from mlbridge._proto.mlbridge.v1 import (
    crf_service_pb2 as crf_pb,
)
from mlbridge._proto.mlbridge.v1 import (
    model_service_pb2 as model_pb,
)
from mlbridge._proto.mlbridge.v1 import (
    text_service_pb2 as text_pb,
)
from mlbridge._rpc import Stubs
from mlbridge._xgb import predict_request, predict_result
from mlbridge._xgb import train_requests as xgb_train_requests
from mlbridge.errors import MlBridgeError, from_rpc_error

__all__ = ["Client"]

R = TypeVar("R")
#: One event of a training: progress, then the final report.
TrainEvent = Union[TrainProgress, R]


class _Rpc(Stubs):
    """The stubs (over the aio channel) plus awaited calls."""

    async def unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, **self.options())
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None

    async def training(self, method: Any, requests: Iterator[Any], report_type: Any) -> AsyncIterator[Any]:
        """A Train call: TrainProgress events, then the report (as `report_type`); leaving early cancels it."""
        call = method(requests, **self.options())
        report = None
        try:
            async for resp in call:
                kind = resp.WhichOneof("event")
                if kind == "progress":
                    yield TrainProgress.from_proto(resp.progress)
                elif kind == "report":
                    report = report_type.from_proto(resp.report)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None
        finally:
            call.cancel()
        if report is None:
            raise MlBridgeError("the server ended the training without a report")
        yield report


async def _last(events: AsyncIterator[Any], on_progress: Any) -> Any:
    last = None
    async for event in events:
        if isinstance(event, TrainProgress):
            if on_progress is not None:
                on_progress(event)
        else:
            last = event
    return last


class XgboostClient:
    """XGBoost boosters: ``client.xgboost`` (see :class:`mlbridge.XgboostClient` for the arguments)."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    def training(self, model_name: str, csv_path: Optional[PathLike] = None, **kwargs: Any) -> AsyncIterator[Union[TrainProgress, XgboostTrainReport]]:
        """Trains, yielding each round's TrainProgress, then the XgboostTrainReport."""
        return self._rpc.training(self._rpc.xgboost.Train, xgb_train_requests(model_name, csv_path, **kwargs), XgboostTrainReport)

    async def train(self, model_name: str, csv_path: Optional[PathLike] = None, *, on_progress: Any = None, **kwargs: Any) -> XgboostTrainReport:
        """Trains and returns the report; ``on_progress`` (if given) gets each TrainProgress."""
        report: XgboostTrainReport = await _last(self.training(model_name, csv_path, **kwargs), on_progress)
        return report

    async def predict(self, model_name: str, features: Any = None, **kwargs: Any) -> PredictResult:
        """Predicts with a stored booster (the synchronous client's arguments)."""
        return predict_result(await self._rpc.unary(self._rpc.xgboost.Predict, predict_request(model_name, features, **kwargs)))


class CrfClient:
    """CRFsuite taggers: ``client.crf`` (see :class:`mlbridge.CrfClient` for the arguments)."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    def training(self, model_name: str, csv_path: Optional[PathLike] = None, **kwargs: Any) -> AsyncIterator[Union[TrainProgress, CrfTrainReport]]:
        """Trains, yielding each iteration's TrainProgress, then the CrfTrainReport."""
        return self._rpc.training(self._rpc.crf.Train, crf_train_requests(model_name, csv_path, **kwargs), CrfTrainReport)

    async def train(self, model_name: str, csv_path: Optional[PathLike] = None, *, on_progress: Any = None, **kwargs: Any) -> CrfTrainReport:
        """Trains and returns the report; ``on_progress`` (if given) gets each TrainProgress."""
        report: CrfTrainReport = await _last(self.training(model_name, csv_path, **kwargs), on_progress)
        return report

    async def predict(self, model_name: str, csv_path: PathLike) -> List[str]:
        """Tags a CSV file in the book's predict format: one label per row."""
        resp = await self._rpc.unary(self._rpc.crf.Predict, crf_pb.CrfServicePredictRequest(model_name=model_name, csv=read_local(csv_path)))
        return list(resp.labels)

    async def tag(self, model_name: str, sequences: Iterable[Any], *, probability: bool = False, marginals: bool = False) -> List[TaggedSequence]:
        """Tags sequences of items (the synchronous client's forms)."""
        req = tag_request(model_name, sequences, probability, marginals)
        return tag_result(req, await self._rpc.unary(self._rpc.crf.Tag, req))


class TextClient:
    """Text utilities: ``client.text``."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    async def count_words(self, text: str) -> Dict[str, int]:
        """Counts the words of ``text``: word → count."""
        resp = await self._rpc.unary(self._rpc.text.CountWords, text_pb.CountWordsRequest(text=text))
        return dict(resp.counts)


class ModelsClient:
    """The server's model store: ``client.models``."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    async def list(self, kind: Optional[str] = None) -> List[ModelInfo]:
        """The stored models, sorted by name; only ``kind`` ("crf", "xgboost") if given."""
        resp = await self._rpc.unary(self._rpc.models.ListModels, model_pb.ListModelsRequest(kind=_kind(kind, False)))
        return [ModelInfo.from_proto(m) for m in resp.models]

    async def get(self, name: str) -> ModelInfo:
        """One model's description; ModelNotFoundError if there is none."""
        resp = await self._rpc.unary(self._rpc.models.GetModel, model_pb.GetModelRequest(name=name))
        return ModelInfo.from_proto(resp.model)

    async def delete(self, name: str) -> None:
        """Deletes a model from the store."""
        await self._rpc.unary(self._rpc.models.DeleteModel, model_pb.DeleteModelRequest(name=name))


class Client:
    """An asyncio connection to an mlbridge server: ``client.crf``, ``client.xgboost``,
    ``client.text``, ``client.models``, each method a coroutine. The same arguments as
    :class:`mlbridge.Client` (``MLBRIDGE_ADDRESS``, ``MLBRIDGE_TOKEN`` as defaults)."""

    crf: CrfClient
    xgboost: XgboostClient
    text: TextClient
    models: ModelsClient

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        tls: bool = False,
        root_certificates: Optional[Certificates] = None,
        token: Optional[str] = None,
        timeout: Optional[float] = None,
        options: Sequence[Tuple[str, Union[str, int]]] = (),
    ) -> None:
        c = connection(address, tls, root_certificates, token, options)
        self.address = c.address
        if c.credentials is not None:
            self._channel = grpc.aio.secure_channel(c.address, c.credentials, options=c.options)
        else:
            self._channel = grpc.aio.insecure_channel(c.address, options=c.options)
        rpc = _Rpc(self._channel, c.address, c.metadata, timeout)
        self.crf = CrfClient(rpc)
        self.xgboost = XgboostClient(rpc)
        self.text = TextClient(rpc)
        self.models = ModelsClient(rpc)

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"mlbridge.aio.Client({self.address!r})"
