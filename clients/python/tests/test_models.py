"""ModelService through client.models: list, get, delete, export, import."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest

from conftest import IRIS_MODEL, NER_MODEL
from mlbridge import Client, CrfTrainReport, InvalidInputError, ModelExistsError, ModelNotFoundError, XgboostTrainReport


def test_list_and_get(client: Client, ner_model: CrfTrainReport, iris_model: XgboostTrainReport) -> None:
    models = client.models.list()
    names = [m.name for m in models]
    assert names == sorted(names) and {NER_MODEL, IRIS_MODEL} <= set(names)
    assert NER_MODEL in [m.name for m in client.models.list("crf")]
    assert IRIS_MODEL not in [m.name for m in client.models.list("crf")]
    assert IRIS_MODEL in [m.name for m in client.models.list("xgboost")]
    info = client.models.get(NER_MODEL)
    assert info == ner_model.model
    assert info.format == "crfsuite" and len(info.sha256) == 64 and info.size_bytes > 0
    assert info.created_at is not None and abs(dt.datetime.now(dt.timezone.utc) - info.created_at) < dt.timedelta(hours=1)
    assert info.feature_names == ["lemma", "next-lemma"]
    with pytest.raises(ValueError, match="kind"):
        client.models.list("svm")


def test_export_crf_is_the_stored_file(client: Client, ner_model: CrfTrainReport, tmp_path: Path) -> None:
    path = tmp_path / "ner.crfsuite"
    info = client.models.export(NER_MODEL, path)
    data = path.read_bytes()
    assert len(data) == info.size_bytes
    assert hashlib.sha256(data).hexdigest() == info.sha256
    assert data[:4] == b"lCRF"  # CRFsuite's magic
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mlbridge-export-")]
    with pytest.raises(InvalidInputError, match="format"):
        client.models.export(NER_MODEL, tmp_path / "x.json", format="json")


def test_export_failure_leaves_no_file(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        client.models.export("no-such-model", tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []


def test_import_exported_crf_and_delete(client: Client, ner_model: CrfTrainReport, data: Path, tmp_path: Path) -> None:
    path = tmp_path / "ner.crfsuite"
    client.models.export(NER_MODEL, path)
    info = client.models.import_model("ner-copy", path, "crf")
    assert info.kind == "crf" and info.sha256 == ner_model.model.sha256 and info.labels == ner_model.model.labels
    assert info.parameters.get("imported") == "true" and info.metrics == {}
    expected = client.crf.predict(NER_MODEL, data / "ner_predict.csv")
    assert client.crf.predict("ner-copy", data / "ner_predict.csv") == expected
    with pytest.raises(ModelExistsError):
        client.models.import_model("ner-copy", path, "crf", fail_if_exists=True)
    client.models.delete("ner-copy")
    with pytest.raises(ModelNotFoundError):
        client.models.get("ner-copy")
    with pytest.raises(ModelNotFoundError):
        client.crf.predict("ner-copy", data / "ner_predict.csv")
    with pytest.raises(ModelNotFoundError):
        client.models.delete("ner-copy")


def test_import_rejects_garbage(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"this is not a model" * 10)
    with pytest.raises(InvalidInputError):
        client.models.import_model("garbage-crf", path, "crf")
    with pytest.raises(InvalidInputError):
        client.models.import_model("garbage-xgb", path, "xgboost")
    for name in ("garbage-crf", "garbage-xgb"):
        with pytest.raises(ModelNotFoundError):
            client.models.get(name)
    with pytest.raises(ValueError, match="kind"):
        client.models.import_model("x", path, "")


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_export_import_roundtrip(client: Client, iris_model: XgboostTrainReport, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"iris.{fmt}"
    client.models.export(IRIS_MODEL, path, format=fmt)
    data = path.read_bytes()
    if fmt == "json":
        assert data.lstrip().startswith(b"{") and b'"learner"' in data
    else:
        assert data[:1] == b"{" and b"learner" in data and b'"learner"' not in data
    name = f"iris-{fmt}"
    info = client.models.import_model(name, path, "xgboost", format=fmt, class_names=["setosa", "versicolor", "virginica"])
    assert info.kind == "xgboost" and info.labels == ["setosa", "versicolor", "virginica"]
    x = np.random.default_rng(0).uniform(0, 8, size=(40, 4)).astype(np.float32)
    for output in ("default", "margins"):
        a = client.xgboost.predict(IRIS_MODEL, x, output=output)
        b = client.xgboost.predict(name, x, output=output)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
        assert a.class_names == b.class_names
