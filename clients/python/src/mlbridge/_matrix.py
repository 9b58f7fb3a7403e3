"""Feature matrices (numpy arrays or lists of rows) as DenseMatrix messages."""

from __future__ import annotations

from typing import Any, Iterable, List

from mlbridge._files import CHUNK_SIZE
from mlbridge._proto.mlbridge.v1 import types_pb2 as types_pb


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
