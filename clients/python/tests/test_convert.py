"""Request building, without a server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlbridge import CrfFeature
from mlbridge._client import _pem
from mlbridge._crf_wire import labelled_batches, to_packed, to_template
from mlbridge._matrix import to_matrices
from mlbridge._params import param_str


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


def test_items_travel_packed() -> None:
    # Names NUL-terminated in one byte string; weights only when one is not 1.0.
    p = to_packed([[["a", ("b", 0.5), ["c", 2]]]])
    assert p.attribute_names == b"a\0b\0c\0"
    assert list(p.attribute_weights) == [1.0, 0.5, 2.0]
    assert list(p.item_attribute_counts) == [3] and list(p.sequence_lengths) == [1]
    p = to_packed([[{"w": 1.5, "flag": True, "off": False, "pos": "NN", "n": {"x": 0.25, "l": ["u", "v"]}}]])
    assert p.attribute_names.split(b"\0")[:-1] == [b"w", b"flag", b"off", b"pos:NN", b"n:x", b"n:l:u", b"n:l:v"]
    assert list(p.attribute_weights) == [1.5, 1.0, 0.0, 1.0, 0.25, 1.0, 1.0]
    p = to_packed([[["a", ("b", 1)], []], [["c"]]])
    assert len(p.attribute_weights) == 0  # all 1.0: no weights
    assert list(p.item_attribute_counts) == [2, 0, 1] and list(p.sequence_lengths) == [2, 1]


def test_labelled_batches() -> None:
    (batch,) = list(labelled_batches([([["a"], {}], ["O", "B-geo"]), ([["b"]], ["O"])]))
    assert list(batch.labels) == ["O", "B-geo", "O"]
    assert list(batch.sequences.sequence_lengths) == [2, 1] and list(batch.sequences.item_attribute_counts) == [1, 0, 1]
    with pytest.raises(ValueError, match=r"sequences\[1\]: 2 items but 1 labels"):
        list(labelled_batches([([["a"]], ["O"]), ([["a"], ["b"]], ["O"])]))
    # Large sets go in several messages of about 64k attributes; positions in errors stay global.
    many = [([[f"w{i}"] * 10], ["O"]) for i in range(20000)]
    batches = list(labelled_batches(many))
    assert len(batches) > 1 and sum(len(b.labels) for b in batches) == 20000
    with pytest.raises(ValueError, match=r"sequences\[7000\]\[0\]: an attribute name must hold no NUL"):
        list(labelled_batches(many[:7000] + [([["x\0y"]], ["O"])]))


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
