"""ModelService: list, inspect, delete, export and import stored models."""

from __future__ import annotations

import os
import tempfile
from types import TracebackType
from typing import Iterable, Iterator, List, Optional, Type

from mlbridge._choices import ModelFormat, ModelKind
from mlbridge._crf_wire import FeatureLike, to_template
from mlbridge._data import ModelInfo
from mlbridge._files import PathLike, closing_chunks, open_local, then
from mlbridge._proto.mlbridge.v1 import model_service_pb2 as model_pb
from mlbridge._proto.mlbridge.v1 import types_pb2 as types_pb
from mlbridge._rpc import Rpc
from mlbridge.errors import MlBridgeError

__all__ = ["ModelsClient", "KINDS", "FORMATS", "ExportFile", "export_request", "import_requests"]

#: Model kinds by name.
KINDS = {
    "crf": types_pb.MODEL_KIND_CRF,
    "xgboost": types_pb.MODEL_KIND_XGBOOST,
}

#: Model file formats by name.
FORMATS = {
    "crfsuite": model_pb.MODEL_FORMAT_CRFSUITE,
    "json": model_pb.MODEL_FORMAT_XGBOOST_JSON,
    "xgboost-json": model_pb.MODEL_FORMAT_XGBOOST_JSON,
    "ubj": model_pb.MODEL_FORMAT_XGBOOST_UBJ,
    "xgboost-ubj": model_pb.MODEL_FORMAT_XGBOOST_UBJ,
}


def _kind(kind: Optional[str], required: bool) -> types_pb.ModelKind.ValueType:
    if kind is None or kind == "":
        if required:
            raise ValueError("kind is required: 'crf' or 'xgboost'")
        return types_pb.MODEL_KIND_UNSPECIFIED
    try:
        return KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"kind: unknown {kind!r} (known: crf, xgboost)") from None


def _format(fmt: Optional[str]) -> model_pb.ModelFormat.ValueType:
    if fmt is None or fmt == "":
        return model_pb.MODEL_FORMAT_UNSPECIFIED
    try:
        return FORMATS[fmt.lower()]
    except KeyError:
        raise ValueError(f"format: unknown {fmt!r} (known: crfsuite, json, ubj)") from None


class ModelsClient:
    """The server's model store: ``client.models``."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc

    def list(self, kind: Optional[ModelKind] = None) -> List[ModelInfo]:
        """Lists the stored models, sorted by name; only ``kind`` ("crf", "xgboost") if given
        (ModelService.ListModels)."""
        resp = self._rpc.unary(self._rpc.models.ListModels, model_pb.ListModelsRequest(kind=_kind(kind, False)))
        return [ModelInfo.from_proto(m) for m in resp.models]

    def get(self, name: str) -> ModelInfo:
        """Describes one model (ModelService.GetModel); ModelNotFoundError if there is none."""
        resp = self._rpc.unary(self._rpc.models.GetModel, model_pb.GetModelRequest(name=name))
        return ModelInfo.from_proto(resp.model)

    def delete(self, name: str) -> None:
        """Deletes a model from the server's disk and memory (ModelService.DeleteModel)."""
        self._rpc.unary(self._rpc.models.DeleteModel, model_pb.DeleteModelRequest(name=name))

    def export(self, name: str, path: PathLike, format: Optional[ModelFormat] = None) -> ModelInfo:
        """Downloads a model's file to ``path`` (ModelService.ExportModel).

        A CRF model comes as a CRFsuite file (``pycrfsuite.Tagger().open(path)``
        reads it); an XGBoost model as UBJ (``format="ubj"``) or JSON
        (``format="json"``), which ``xgboost.Booster(model_file=path)`` loads.
        Without ``format``, a path ending in ``.json`` asks for JSON and one ending
        in ``.ubj`` for UBJ (as ``Booster.save_model`` does); otherwise the model's
        own format (UBJ for XGBoost).
        The file is written only when the whole model arrived.
        """
        req = export_request(name, format, path)
        with ExportFile(path) as out:
            for msg in self._rpc.server_stream(self._rpc.models.ExportModel, req):
                out.add(msg)
        return out.info()

    def import_model(
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
        """Uploads a model file and stores it as ``name`` (ModelService.ImportModel).

        ``kind`` is ``"crf"`` (a CRFsuite model file, e.g. saved by python-crfsuite)
        or ``"xgboost"`` (JSON or UBJ; ``format`` is detected when not given).
        ``class_names`` name an XGBoost classifier's classes by index;
        ``feature_template`` is how a CRF model's CSV prediction builds items
        (default: the book preset). The server loads and checks the model before
        storing it: a file it cannot read raises InvalidInputError.
        """
        requests = import_requests(name, path, kind, format, class_names, feature_template=feature_template, fail_if_exists=fail_if_exists)
        resp = self._rpc.stream_unary(self._rpc.models.ImportModel, requests)
        return ModelInfo.from_proto(resp.model)


#: The format a file name asks for when export is given none (XGBoost's own rule in save_model).
SUFFIX_FORMATS = {".json": "json", ".ubj": "ubj"}


def export_request(name: str, format: Optional[str] = None, path: Optional[PathLike] = None) -> model_pb.ExportModelRequest:
    """The ModelService.ExportModel request (the format checked here). Without ``format``, the
    suffix of ``path`` decides: ``.json`` is JSON, ``.ubj`` is UBJ, others the model's own format."""
    if (format is None or format == "") and path is not None:
        format = SUFFIX_FORMATS.get(os.path.splitext(os.fspath(path))[1].lower())
    return model_pb.ExportModelRequest(name=name, format=_format(format))


class ExportFile:
    """Where an export's chunks go, for the synchronous and the asyncio client alike: a temporary
    file beside ``path``, renamed onto it only when the whole model arrived (removed otherwise)."""

    def __init__(self, path: PathLike) -> None:
        self._target = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self._target))
        fd, self._tmp = tempfile.mkstemp(prefix=".mlbridge-export-", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self._info: Optional[ModelInfo] = None

    def add(self, msg: model_pb.ExportModelResponse) -> None:
        """Takes one ExportModel response: the model's description, then its chunks."""
        if self._info is None and msg.HasField("model"):
            self._info = ModelInfo.from_proto(msg.model)
        if msg.chunk:
            self._file.write(msg.chunk)

    def info(self) -> ModelInfo:
        """The exported model's description (after the ``with`` block)."""
        assert self._info is not None
        return self._info

    def __enter__(self) -> ExportFile:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self._file.close()
        if exc_type is None and self._info is None:
            os.unlink(self._tmp)
            raise MlBridgeError("the server sent no model description")
        if exc_type is None:
            os.replace(self._tmp, self._target)
        elif os.path.exists(self._tmp):
            os.unlink(self._tmp)


def import_requests(
    name: str,
    path: PathLike,
    kind: ModelKind,
    format: Optional[ModelFormat] = None,
    class_names: Optional[Iterable[str]] = None,
    *,
    feature_template: Optional[Iterable[FeatureLike]] = None,
    fail_if_exists: bool = False,
) -> Iterator[model_pb.ImportModelRequest]:
    """The messages of ModelService.ImportModel (the header, then the file's chunks), for the
    synchronous and the asyncio client alike. Checks the arguments and opens the file (a missing
    one raises FileNotFoundError) before any message is made; the file is closed when the
    messages are used up or dropped."""
    header = model_pb.ImportModelHeader(
        name=name,
        kind=_kind(kind, True),
        format=_format(format),
        class_names=list(class_names or []),
        fail_if_exists=fail_if_exists,
    )
    template = to_template(feature_template)
    if template is not None:
        header.feature_template.CopyFrom(template)
    f = open_local(path)
    return then(model_pb.ImportModelRequest(header=header), (model_pb.ImportModelRequest(chunk=c) for c in closing_chunks(f)))
