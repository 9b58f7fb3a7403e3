"""Conversions from Python values to request messages."""
from __future__ import annotations

import os
import threading
from typing import (
    IO,
    Any,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import grpc

from mlbridge._data import CrfFeature
from mlbridge._proto.mlbridge.v1 import crf_service_pb2 as crf_pb, types_pb2 as types_pb

#: Upload chunk size: 1 MiB per message.
CHUNK_SIZE = 1024 * 1024

#: An attribute: a name (weight 1.0) or a ``(name, weight)`` pair.
AttributeLike = Union[str, Tuple[str, float], Sequence[Any]]
#: An item: a list of attributes, or a dict like python-crfsuite's ItemSequence
#: accepts (``{name: weight}``, ``{name: bool}``, ``{name: "value"}`` → ``name:value``,
#: ``{prefix: {...}}`` / ``{prefix: [...]}`` → ``prefix:...``).
ItemLike = Union[Mapping[str, Any], Iterable[AttributeLike]]
#: A sequence (sentence): a list of items.
SequenceLike = Iterable[ItemLike]
#: A feature of a CRF template: a CrfFeature, a column name, ``(column, weight[, prefix])``
#: or ``{"column": ..., "weight": ..., "prefix": ...}``.
FeatureLike = Union[CrfFeature, str, Tuple[Any, ...], Mapping[str, Any]]
PathLike = Union[str, "os.PathLike[str]"]

T = TypeVar("T")


def param_str(value: Any) -> str:
    """A library parameter as the server wants it: a string (booleans as 1/0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def params(parameters: Optional[Mapping[str, Any]]) -> dict[str, str]:
    return {str(k): param_str(v) for k, v in (parameters or {}).items()}


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: a weight must be a number, got {value!r}") from None


def _flatten(prefix: str, value: Any, names: List[str], weights: List[float], where: str) -> None:
    """Flattens python-crfsuite style dict values under ``prefix``."""
    if isinstance(value, str):
        names.append(f"{prefix}:{value}")
        weights.append(1.0)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}:{k}", v, names, weights, where)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            if not isinstance(v, str):
                raise TypeError(f"{where}: nested lists hold attribute names, got {v!r}")
            names.append(f"{prefix}:{v}")
            weights.append(1.0)
    else:
        names.append(prefix)
        weights.append(_weight(value, where))


def to_item(item: ItemLike, where: str = "item") -> crf_pb.CrfItem:
    """Converts one item (a list of attribute names or ``(name, weight)`` pairs, or a dict)
    to the compact CrfItem form: ``attribute_names`` and, unless every weight is 1.0,
    ``attribute_weights``."""
    names, weights = _attributes(item, where)
    if all(w == 1.0 for w in weights):
        return crf_pb.CrfItem(attribute_names=names)
    return crf_pb.CrfItem(attribute_names=names, attribute_weights=weights)


def _attributes(item: ItemLike, where: str) -> Tuple[List[str], List[float]]:
    """The names and weights of one item's attributes."""
    names: List[str] = []
    weights: List[float] = []
    if isinstance(item, Mapping):
        for k, v in item.items():
            _flatten(str(k), v, names, weights, where)
    elif isinstance(item, (str, bytes)):
        raise TypeError(f"{where}: an item is a list of attributes or a dict, not a string ({item!r}); wrap it in a list")
    else:
        for a in item:
            if isinstance(a, str):
                names.append(a)
                weights.append(1.0)
            elif isinstance(a, (tuple, list)) and len(a) == 2 and isinstance(a[0], str):
                names.append(a[0])
                weights.append(_weight(a[1], where))
            else:
                raise TypeError(f"{where}: an attribute is a name or a (name, weight) pair, got {a!r}")
    return names, weights


def to_packed(sequences: Iterable[SequenceLike], what: str = "sequences") -> crf_pb.CrfPackedSequences:
    """Converts sequences to the packed form (CrfPackedSequences): all attribute
    names in one NUL-separated byte string plus three number lists, so that
    neither side handles a message per item or attribute."""
    if isinstance(sequences, (str, bytes)):
        raise TypeError(f"{what}: expected a list of sequences, got a string")
    names: List[str] = []
    weights: List[float] = []
    counts: List[int] = []
    lengths: List[int] = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes, Mapping)):
            raise TypeError(f"{what}[{i}]: a sequence is a list of items, got {type(seq).__name__}")
        n = 0
        for t, item in enumerate(seq):
            where = f"{what}[{i}][{t}]"
            item_names, item_weights = _attributes(item, where)
            for name in item_names:
                if not name or "\0" in name:
                    raise ValueError(f"{where}: an attribute name must be non-empty and hold no NUL character, got {name!r}")
            names.extend(item_names)
            weights.extend(item_weights)
            counts.append(len(item_names))
            n += 1
        lengths.append(n)
    msg = crf_pb.CrfPackedSequences(
        attribute_names=("\0".join(names) + "\0").encode("utf-8") if names else b"",
        item_attribute_counts=counts,
        sequence_lengths=lengths,
    )
    if any(w != 1.0 for w in weights):
        msg.attribute_weights.extend(weights)
    return msg


def to_sequence(seq: SequenceLike, labels: Optional[Iterable[str]] = None, where: str = "sequence") -> crf_pb.CrfSequence:
    if isinstance(seq, (str, bytes, Mapping)):
        raise TypeError(f"{where}: a sequence is a list of items, got {type(seq).__name__}")
    items = [to_item(it, f"{where}[{i}]") for i, it in enumerate(seq)]
    msg = crf_pb.CrfSequence(items=items)
    if labels is not None:
        if isinstance(labels, str):
            raise TypeError(f"{where}: labels are a list of strings, got a string")
        msg.labels.extend(labels)
        if len(msg.labels) != len(items):
            raise ValueError(f"{where}: {len(items)} items but {len(msg.labels)} labels")
    return msg


def to_feature(f: FeatureLike, where: str) -> types_pb.CrfFeature:
    if isinstance(f, CrfFeature):
        return types_pb.CrfFeature(column=f.column, weight=f.weight, prefix=f.prefix)
    if isinstance(f, str):
        return types_pb.CrfFeature(column=f)
    if isinstance(f, Mapping):
        msg = types_pb.CrfFeature(column=str(f["column"]), prefix=str(f.get("prefix", "")))
        if f.get("weight") is not None:
            msg.weight = _weight(f["weight"], where)
        return msg
    if isinstance(f, tuple) and 1 <= len(f) <= 3:
        msg = types_pb.CrfFeature(column=str(f[0]))
        if len(f) > 1 and f[1] is not None:
            msg.weight = _weight(f[1], where)
        if len(f) > 2:
            msg.prefix = str(f[2])
        return msg
    raise TypeError(f"{where}: a feature is a CrfFeature, a column name, (column, weight[, prefix]) or a dict, got {f!r}")


def to_template(template: Optional[Iterable[FeatureLike]], what: str = "feature_template") -> Optional[types_pb.CrfFeatureTemplate]:
    if template is None:
        return None
    return types_pb.CrfFeatureTemplate(features=[to_feature(f, f"{what}[{i}]") for i, f in enumerate(template)])


def open_local(path: PathLike) -> IO[bytes]:
    """Opens a local file for upload; FileNotFoundError (before any call) when it is missing."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(2, "No such file or directory", p)
    if os.path.isdir(p):
        raise IsADirectoryError(21, "Is a directory", p)
    return open(p, "rb")


def read_local(path: PathLike) -> bytes:
    with open_local(path) as f:
        return f.read()


def chunks(f: IO[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while True:
        b = f.read(size)
        if not b:
            return
        yield b


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


def numpy_module() -> Any:
    """numpy, or None when it is not installed."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - exercised without numpy
        return None
    return numpy


def _is_array(x: Any) -> bool:
    return hasattr(x, "__array__") or hasattr(x, "__array_interface__")


def to_matrices(features: Any, max_bytes: int = 8 * CHUNK_SIZE, what: str = "features") -> List[types_pb.DenseMatrix]:
    """Converts a 2-D array (numpy array, or a list of rows) to DenseMatrix messages
    of at most ``max_bytes`` of values each (one message when ``max_bytes`` is 0).

    A 1-D numpy array is one row. Values become float32; NaN marks a missing value.
    Arrays travel as ``raw_values`` (their little-endian float32 bytes, copied
    once), lists as ``values``.
    """
    np = numpy_module()
    if np is not None and _is_array(features):
        arr = np.asarray(features, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise ValueError(f"{what}: expected a 2-D array, got {arr.ndim} dimensions")
        rows, cols = (int(d) for d in arr.shape)
        if rows == 0 or cols == 0:
            raise ValueError(f"{what}: the array is empty ({rows}×{cols})")
        arr = np.ascontiguousarray(arr, dtype="<f4")
        step = rows if max_bytes <= 0 else max(1, max_bytes // (cols * 4))
        out = []
        for start in range(0, rows, step):
            part = arr[start : start + step]
            out.append(types_pb.DenseMatrix(rows=int(part.shape[0]), cols=cols, raw_values=part.tobytes()))
        return out
    if isinstance(features, (str, bytes)) or not isinstance(features, Iterable):
        raise TypeError(f"{what}: expected a 2-D array or a list of rows, got {type(features).__name__}")
    table = [list(r) for r in features]
    if not table:
        raise ValueError(f"{what}: no rows")
    cols = len(table[0])
    if cols == 0:
        raise ValueError(f"{what}: row 0 is empty")
    for i, r in enumerate(table):
        if len(r) != cols:
            raise ValueError(f"{what}: row {i} has {len(r)} values, row 0 has {cols}")
    step = len(table) if max_bytes <= 0 else max(1, max_bytes // (cols * 4))
    out = []
    for start in range(0, len(table), step):
        part = table[start : start + step]
        m = types_pb.DenseMatrix(rows=len(part), cols=cols)
        m.values.extend(float(v) for r in part for v in r)
        out.append(m)
    return out


def to_floats(values: Any, what: str) -> List[float]:
    np = numpy_module()
    if np is not None and _is_array(values):
        arr = np.asarray(values, dtype=np.float32)
        if arr.ndim != 1:
            arr = arr.reshape(-1)
        return [float(v) for v in arr.tolist()]
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what}: expected numbers, got a string")
    return [float(v) for v in values]
