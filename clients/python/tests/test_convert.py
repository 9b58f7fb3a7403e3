"""Request building, without a server."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlbridge import CrfFeature
from mlbridge._client import _pem
from mlbridge._convert import param_str, to_item, to_matrices, to_sequence, to_template
from mlbridge._proto.mlbridge.v1 import types_pb2


def test_numpy_matrix_travels_as_raw_float32_bytes() -> None:
    x = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    x[1, 2] = np.nan
    (raw,) = to_matrices(x, max_bytes=0)
    assert raw.rows == 3 and raw.cols == 4
    assert raw.HasField("raw_values") and len(raw.values) == 0
    assert raw.raw_values == x.astype("<f4").tobytes()
    np.testing.assert_array_equal(np.frombuffer(raw.raw_values, dtype="<f4").reshape(3, 4), x.astype(np.float32))
    # A Fortran-ordered or big-endian array is sent row-major, little-endian all the same.
    (fortran,) = to_matrices(np.asfortranarray(x.astype(">f4")), max_bytes=0)
    assert fortran.raw_values == raw.raw_values
    # Lists keep the repeated float encoding, with the same float32 values.
    (from_list,) = to_matrices(x.tolist(), max_bytes=0)
    assert not from_list.HasField("raw_values")
    np.testing.assert_array_equal(np.array(from_list.values, dtype=np.float32), x.astype(np.float32).ravel())


def test_matrices_are_split_by_size() -> None:
    x = np.ones((1000, 10), dtype=np.float32)  # 40 kB
    parts = to_matrices(x, max_bytes=8000)  # 200 rows each
    assert [p.rows for p in parts] == [200] * 5
    assert sum(len(p.raw_values) for p in parts) == 10000 * 4
    assert [p.rows for p in to_matrices(x.tolist(), max_bytes=8000)] == [200] * 5
    assert to_matrices(np.ones(4))[0].rows == 1  # a 1-D array is one row


def test_items() -> None:
    # Items travel in the compact form: names, and weights unless all are 1.0.
    item = to_item(["a", ("b", 0.5), ["c", 2]])
    assert len(item.attributes) == 0
    assert list(zip(item.attribute_names, item.attribute_weights)) == [("a", 1.0), ("b", 0.5), ("c", 2.0)]
    item = to_item({"w": 1.5, "flag": True, "off": False, "pos": "NN", "n": {"x": 0.25, "l": ["u", "v"]}})
    assert list(zip(item.attribute_names, item.attribute_weights)) == [
        ("w", 1.5), ("flag", 1.0), ("off", 0.0), ("pos:NN", 1.0), ("n:x", 0.25), ("n:l:u", 1.0), ("n:l:v", 1.0)
    ]
    item = to_item(["a", ("b", 1), "c"])
    assert list(item.attribute_names) == ["a", "b", "c"] and len(item.attribute_weights) == 0  # all 1.0: no weights
    seq = to_sequence([["a"], {}], ["O", "B-geo"])
    assert len(seq.items) == 2 and list(seq.labels) == ["O", "B-geo"] and len(seq.items[1].attribute_names) == 0
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
