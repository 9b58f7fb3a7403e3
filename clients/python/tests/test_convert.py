"""Request building, without a server."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlbridge import CrfFeature
from mlbridge._client import _pem
from mlbridge._convert import packed_floats_field, param_str, to_item, to_matrices, to_sequence, to_template
from mlbridge._proto.mlbridge.v1 import types_pb2


def test_numpy_matrix_encoding_matches_protobuf() -> None:
    x = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    x[1, 2] = np.nan
    (fast,) = to_matrices(x, max_bytes=0)
    slow = types_pb2.DenseMatrix(rows=3, cols=4)
    slow.values.extend(x.astype(np.float32).ravel().tolist())
    assert fast.rows == 3 and fast.cols == 4
    np.testing.assert_array_equal(np.array(fast.values, dtype=np.float32), np.array(slow.values, dtype=np.float32))
    assert fast.SerializeToString() == slow.SerializeToString()
    (from_list,) = to_matrices(x.tolist(), max_bytes=0)
    assert from_list.SerializeToString() == slow.SerializeToString()


def test_large_packed_field_lengths() -> None:
    # Multi-byte varint lengths (> 127 and > 16383 bytes).
    for n in (1, 32, 5000):
        data = np.arange(n, dtype="<f4").tobytes()
        m = types_pb2.DenseMatrix()
        m.MergeFromString(packed_floats_field(3, data))
        assert list(m.values) == list(range(n))


def test_matrices_are_split_by_size() -> None:
    x = np.ones((1000, 10), dtype=np.float32)  # 40 kB
    parts = to_matrices(x, max_bytes=8000)  # 200 rows each
    assert [p.rows for p in parts] == [200] * 5
    assert sum(len(p.values) for p in parts) == 10000
    assert [p.rows for p in to_matrices(x.tolist(), max_bytes=8000)] == [200] * 5
    assert to_matrices(np.ones(4))[0].rows == 1  # a 1-D array is one row


def test_items() -> None:
    item = to_item(["a", ("b", 0.5), ["c", 2]])
    assert [(a.name, a.weight if a.HasField("weight") else None) for a in item.attributes] == [("a", None), ("b", 0.5), ("c", 2.0)]
    item = to_item({"w": 1.5, "flag": True, "off": False, "pos": "NN", "n": {"x": 0.25, "l": ["u", "v"]}})
    assert [(a.name, a.weight if a.HasField("weight") else None) for a in item.attributes] == [
        ("w", 1.5), ("flag", 1.0), ("off", 0.0), ("pos:NN", None), ("n:x", 0.25), ("n:l:u", None), ("n:l:v", None)
    ]
    seq = to_sequence([["a"], {}], ["O", "B-geo"])
    assert len(seq.items) == 2 and list(seq.labels) == ["O", "B-geo"] and len(seq.items[1].attributes) == 0
    with pytest.raises(ValueError, match="2 items but 1 labels"):
        to_sequence([["a"], ["b"]], ["O"])


def test_feature_templates() -> None:
    t = to_template([CrfFeature("lemma"), ("next-lemma", 0.5), "pos", {"column": "word", "prefix": "w="}, ("shape", None, "s=")])
    assert t is not None
    got = [(f.column, f.weight if f.HasField("weight") else None, f.prefix) for f in t.features]
    assert got == [("lemma", 1.0, ""), ("next-lemma", 0.5, ""), ("pos", None, ""), ("word", None, "w="), ("shape", None, "s=")]
    assert to_template(None) is None
    with pytest.raises(TypeError, match="feature"):
        to_template([3.5])  # type: ignore[list-item]


def test_param_strings() -> None:
    assert [param_str(v) for v in (True, False, 3, 0.25, "x")] == ["1", "0", "3", "0.25", "x"]


def test_pem_sources(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    f = tmp_path / "ca.pem"
    f.write_text(pem)
    assert _pem(None) is None
    assert _pem(pem.encode()) == pem.encode() == _pem(pem) == _pem(f) == _pem(str(f))
