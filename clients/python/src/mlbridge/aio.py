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

import asyncio
import collections
from types import TracebackType
from typing import (
    Any,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    Generic,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
)

import grpc
import grpc.aio

from mlbridge._choices import CrfAlgorithm, CrfFeaturePreset, ModelFormat, ModelKind, PredictOutput, XgboostPreset
from mlbridge._client import Certificates, connection
from mlbridge._crf import tag_request, tag_result
from mlbridge._crf import train_requests as crf_train_requests
from mlbridge._crf_wire import FeatureLike, LabelledSequence, SequenceLike, to_packed
from mlbridge._data import CrfTrainReport, ModelInfo, PredictResult, TaggedSequence, TrainProgress, WordCount, XgboostTrainReport
from mlbridge._files import PathLike, read_local
from mlbridge._models import ExportFile, _kind, export_request, import_requests
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
from mlbridge._text import count_words_requests
from mlbridge._xgb import predict_request, predict_result
from mlbridge._xgb import train_requests as xgb_train_requests
from mlbridge.errors import MlBridgeError, from_rpc_error

__all__ = ["Client", "CrfClient", "XgboostClient", "TextClient", "ModelsClient"]

T = TypeVar("T")
#: A progress callback: gets each TrainProgress of a training.
ProgressCallback = Callable[[TrainProgress], Any]


class _Requests(Generic[T]):
    """A request stream for grpc.aio from a synchronous or asynchronous iterable. If the source
    raises (a bad value in the caller's sequences, a read error), the exception is kept, the call
    is cancelled (the server does not act on partial data) and :meth:`reraise` raises it in place
    of the cancellation."""

    def __init__(self, source: Union[Iterable[T], AsyncIterable[T]]) -> None:
        self._source = source
        self.call: Optional[grpc.aio.Call] = None
        self.error: Optional[Exception] = None

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            if isinstance(self._source, AsyncIterable):
                async for x in self._source:
                    yield x
            else:
                for x in self._source:
                    yield x
        except Exception as e:  # noqa: BLE001 - handed back to the caller's task
            self.error = e
            if self.call is not None:
                self.call.cancel()

    def reraise(self, e: BaseException, address: str) -> None:
        """Raises what ended the call: the source's error, else the mapped RpcError, else ``e``."""
        if self.error is not None:
            raise self.error from None
        if isinstance(e, grpc.RpcError):
            raise from_rpc_error(e, address) from None
        raise e


class _Rpc(Stubs):
    """The stubs (over the aio channel) plus awaited calls, errors mapped to mlbridge.errors."""

    async def unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, **self.options())
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None

    async def stream_unary(self, method: Any, requests: Union[Iterable[Any], AsyncIterable[Any]]) -> Any:
        stream = _Requests(requests)
        call = method(stream.__aiter__(), **self.options())
        stream.call = call
        try:
            return await call
        except (grpc.RpcError, asyncio.CancelledError) as e:
            stream.reraise(e, self.address)
        finally:
            call.cancel()  # no-op once the call has finished

    async def server_stream(self, method: Any, request: Any) -> AsyncIterator[Any]:
        call = method(request, **self.options())
        try:
            async for msg in call:
                yield msg
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None
        finally:
            call.cancel()

    async def bidi(self, method: Any, requests: Union[Iterable[Any], AsyncIterable[Any]]) -> AsyncIterator[Any]:
        """A bidi call's responses; leaving early cancels it."""
        stream = _Requests(requests)
        call = method(stream.__aiter__(), **self.options())
        stream.call = call
        try:
            async for msg in call:
                yield msg
            if stream.error is not None:
                raise stream.error
        except (grpc.RpcError, asyncio.CancelledError) as e:
            stream.reraise(e, self.address)
        finally:
            call.cancel()

    async def training(self, method: Any, requests: Iterable[Any], report_type: Any) -> AsyncIterator[Any]:
        """A Train call: TrainProgress events, then the report (as `report_type`); leaving early cancels it."""
        report = None
        async for resp in self.bidi(method, requests):
            kind = resp.WhichOneof("event")
            if kind == "progress":
                yield TrainProgress.from_proto(resp.progress)
            elif kind == "report":
                report = report_type.from_proto(resp.report)
        if report is None:
            raise MlBridgeError("the server ended the training without a report")
        yield report


async def _last(events: AsyncIterator[Any], on_progress: Optional[ProgressCallback]) -> Any:
    last = None
    async for event in events:
        if isinstance(event, TrainProgress):
            if on_progress is not None:
                on_progress(event)
        else:
            last = event
    return last


class XgboostClient:
    """XGBoost boosters: ``client.xgboost`` (the arguments of :class:`mlbridge.XgboostClient`)."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    def training(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        features: Any = None,
        labels: Any = None,
        weights: Any = None,
        preset: Optional[XgboostPreset] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        num_rounds: Optional[int] = None,
        test_fraction: Optional[float] = None,
        validation_fraction: Optional[float] = None,
        seed: int = 0,
        feature_names: Optional[Iterable[str]] = None,
        class_names: Optional[Iterable[str]] = None,
        label_column: Optional[str] = None,
        fail_if_exists: bool = False,
    ) -> AsyncIterator[Union[TrainProgress, XgboostTrainReport]]:
        """Trains, yielding each round's TrainProgress, then the XgboostTrainReport; leaving the
        loop early cancels the training. The arguments are checked (and a CSV opened) at once."""
        requests = xgb_train_requests(
            model_name,
            csv_path,
            features=features,
            labels=labels,
            weights=weights,
            preset=preset,
            parameters=parameters,
            num_rounds=num_rounds,
            test_fraction=test_fraction,
            validation_fraction=validation_fraction,
            seed=seed,
            feature_names=feature_names,
            class_names=class_names,
            label_column=label_column,
            fail_if_exists=fail_if_exists,
        )
        return self._rpc.training(self._rpc.xgboost.Train, requests, XgboostTrainReport)

    async def train(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        features: Any = None,
        labels: Any = None,
        weights: Any = None,
        preset: Optional[XgboostPreset] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        num_rounds: Optional[int] = None,
        test_fraction: Optional[float] = None,
        validation_fraction: Optional[float] = None,
        seed: int = 0,
        feature_names: Optional[Iterable[str]] = None,
        class_names: Optional[Iterable[str]] = None,
        label_column: Optional[str] = None,
        fail_if_exists: bool = False,
        on_progress: Optional[ProgressCallback] = None,
    ) -> XgboostTrainReport:
        """Trains and returns the report; ``on_progress`` (if given) gets each TrainProgress."""
        events = self.training(
            model_name,
            csv_path,
            features=features,
            labels=labels,
            weights=weights,
            preset=preset,
            parameters=parameters,
            num_rounds=num_rounds,
            test_fraction=test_fraction,
            validation_fraction=validation_fraction,
            seed=seed,
            feature_names=feature_names,
            class_names=class_names,
            label_column=label_column,
            fail_if_exists=fail_if_exists,
        )
        report: XgboostTrainReport = await _last(events, on_progress)
        return report

    async def predict(
        self,
        model_name: str,
        features: Any = None,
        *,
        csv_path: Optional[PathLike] = None,
        output: PredictOutput = "default",
        class_names: bool = True,
    ) -> PredictResult:
        """Predicts with a stored booster (see :meth:`mlbridge.XgboostClient.predict`)."""
        req = predict_request(model_name, features, csv_path=csv_path, output=output, class_names=class_names)
        return predict_result(await self._rpc.unary(self._rpc.xgboost.Predict, req))


class CrfClient:
    """CRFsuite taggers: ``client.crf`` (the arguments of :class:`mlbridge.CrfClient`)."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    def training(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        sequences: Optional[Iterable[LabelledSequence]] = None,
        algorithm: Optional[CrfAlgorithm] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        feature_preset: Optional[CrfFeaturePreset] = None,
        feature_template: Optional[Iterable[FeatureLike]] = None,
        test_fraction: Optional[float] = None,
        seed: int = 0,
        no_holdout: bool = False,
        fail_if_exists: bool = False,
    ) -> AsyncIterator[Union[TrainProgress, CrfTrainReport]]:
        """Trains, yielding each iteration's TrainProgress, then the CrfTrainReport; leaving the
        loop early cancels the training."""
        requests = crf_train_requests(
            model_name,
            csv_path,
            sequences=sequences,
            algorithm=algorithm,
            parameters=parameters,
            feature_preset=feature_preset,
            feature_template=feature_template,
            test_fraction=test_fraction,
            seed=seed,
            no_holdout=no_holdout,
            fail_if_exists=fail_if_exists,
        )
        return self._rpc.training(self._rpc.crf.Train, requests, CrfTrainReport)

    async def train(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        sequences: Optional[Iterable[LabelledSequence]] = None,
        algorithm: Optional[CrfAlgorithm] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        feature_preset: Optional[CrfFeaturePreset] = None,
        feature_template: Optional[Iterable[FeatureLike]] = None,
        test_fraction: Optional[float] = None,
        seed: int = 0,
        no_holdout: bool = False,
        fail_if_exists: bool = False,
        on_progress: Optional[ProgressCallback] = None,
    ) -> CrfTrainReport:
        """Trains and returns the report; ``on_progress`` (if given) gets each TrainProgress."""
        events = self.training(
            model_name,
            csv_path,
            sequences=sequences,
            algorithm=algorithm,
            parameters=parameters,
            feature_preset=feature_preset,
            feature_template=feature_template,
            test_fraction=test_fraction,
            seed=seed,
            no_holdout=no_holdout,
            fail_if_exists=fail_if_exists,
        )
        report: CrfTrainReport = await _last(events, on_progress)
        return report

    async def predict(self, model_name: str, csv_path: PathLike) -> List[str]:
        """Tags a CSV file in the book's predict format: one label per row."""
        resp = await self._rpc.unary(self._rpc.crf.Predict, crf_pb.CrfServicePredictRequest(model_name=model_name, csv=read_local(csv_path)))
        return list(resp.labels)

    async def tag(self, model_name: str, sequences: Iterable[SequenceLike], *, probability: bool = False, marginals: bool = False) -> List[TaggedSequence]:
        """Tags sequences of items (the synchronous client's forms)."""
        req = tag_request(model_name, sequences, probability, marginals)
        return tag_result(req, await self._rpc.unary(self._rpc.crf.Tag, req))

    async def tag_stream(
        self,
        model_name: str,
        batches: Union[Iterable[Iterable[SequenceLike]], AsyncIterable[Iterable[SequenceLike]]],
        *,
        probability: bool = False,
        marginals: bool = False,
    ) -> AsyncIterator[List[TaggedSequence]]:
        """Tags batches of sequences over one stream (CrfService.TagStream): yields, per batch and
        in order, the list of :class:`TaggedSequence`. ``batches`` may be an async iterable, consumed
        as the server answers; leaving the ``async for`` early cancels the call."""
        # The sequence lengths of each batch sent, taken when its answer comes.
        lengths: Deque[List[int]] = collections.deque()

        async def requests() -> AsyncIterator[crf_pb.CrfServiceTagStreamRequest]:
            i = 0
            async for batch in _aiter(batches):
                packed = to_packed(batch, f"batches[{i}]")
                lengths.append(list(packed.sequence_lengths))
                yield crf_pb.CrfServiceTagStreamRequest(model_name=model_name, packed=packed, include_probability=probability, include_marginals=marginals)
                i += 1

        async for resp in self._rpc.bidi(self._rpc.crf.TagStream, requests()):
            yield TaggedSequence.from_packed(resp.packed, lengths.popleft(), list(resp.labels), probability, marginals)


async def _aiter(source: Union[Iterable[T], AsyncIterable[T]]) -> AsyncIterator[T]:
    if isinstance(source, AsyncIterable):
        async for x in source:
            yield x
    else:
        for x in source:
            yield x


class TextClient:
    """Text utilities: ``client.text``."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    async def count_words(self, text: str) -> Dict[str, int]:
        """Counts the words of ``text``: word → count."""
        resp = await self._rpc.unary(self._rpc.text.CountWords, text_pb.CountWordsRequest(text=text))
        return dict(resp.counts)

    async def count_words_stream(self, chunks: Union[Iterable[Union[str, bytes]], AsyncIterable[Union[str, bytes]]]) -> WordCount:
        """Counts the words of a text sent in pieces (str or UTF-8 bytes, from a synchronous or
        an async iterable; pieces may split words and characters anywhere)."""

        async def requests() -> AsyncIterator[text_pb.CountWordsStreamRequest]:
            async for c in _aiter(chunks):
                for req in count_words_requests([c]):
                    yield req

        resp = await self._rpc.stream_unary(self._rpc.text.CountWordsStream, requests())
        return WordCount.from_proto(resp)


class ModelsClient:
    """The server's model store: ``client.models``."""

    def __init__(self, rpc: _Rpc) -> None:
        self._rpc = rpc

    async def list(self, kind: Optional[ModelKind] = None) -> List[ModelInfo]:
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

    async def export(self, name: str, path: PathLike, format: Optional[ModelFormat] = None) -> ModelInfo:
        """Downloads a model's file to ``path`` (see :meth:`mlbridge.ModelsClient.export`); the file
        is written only when the whole model arrived."""
        req = export_request(name, format, path)
        with ExportFile(path) as out:
            async for msg in self._rpc.server_stream(self._rpc.models.ExportModel, req):
                out.add(msg)
        return out.info()

    async def import_model(
        self,
        name: str,
        path: PathLike,
        kind: ModelKind,
        format: Optional[ModelFormat] = None,
        class_names: Optional[Iterable[str]] = None,
        *,
        feature_template: Optional[Iterable[FeatureLike]] = None,
        fail_if_exists: bool = False,
    ) -> ModelInfo:
        """Uploads a model file and stores it as ``name`` (see :meth:`mlbridge.ModelsClient.import_model`)."""
        requests = import_requests(name, path, kind, format, class_names, feature_template=feature_template, fail_if_exists=fail_if_exists)
        resp = await self._rpc.stream_unary(self._rpc.models.ImportModel, requests)
        return ModelInfo.from_proto(resp.model)


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
