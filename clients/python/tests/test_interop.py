"""Model exchange with the libraries' own Python packages (python-crfsuite, xgboost 1.7 ... 3.2).

What works (measured with the server's libxgboost 3.2.0 and python-crfsuite 0.9.12):

- CRF: a model the server trained, exported, opens in python-crfsuite and tags the same
  (labels, path probabilities, marginals); a model python-crfsuite trained imports and
  predicts the same (CSV prediction with the default book template, and structured tagging).
- XGBoost, xgboost -> server: JSON and UBJ models saved by xgboost 1.7.6, 2.0.3, 2.1.4, 3.0.5,
  3.1.3 and 3.2.0 (binary:logistic, multi:softprob with unbalanced classes, reg:squarederror,
  and one with an explicit base_score; each version in a venv of its own, xgboost_versions.py)
  import and predict what that xgboost predicts in-process, margins and outputs, bit for bit.
- XGBoost, server -> xgboost: export writes the format the file name asks for (``.json``,
  ``.ubj``) and the file loads in xgboost 2.1.4, 3.0.5, 3.1.3 and 3.2.0 with the server's
  predictions, bit for bit. One exception, measured: a multi-class model fitted by
  xgboost >= 3.1 holds one intercept per class (base_score "[a,b,c]"); xgboost <= 3.0 loads
  that vector without an error and drops the intercepts, and no scalar can stand for them, so
  such an export is exact in 3.1+ only. When the intercepts are equal (every model of
  xgboost <= 3.0, binary and regression models of any version, the iris preset) the export
  writes the scalar form, which every version reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from xgboost_versions import EXPORT_TARGETS, VERSIONS, run_worker

from conftest import IRIS_MODEL, NER_MODEL, read_rows
from mlbridge import Client, CrfTrainReport, InvalidInputError, ModelFormat, PredictOutput, XgboostTrainReport

pytestmark = pytest.mark.interop

pycrfsuite = pytest.importorskip("pycrfsuite")
xgb = pytest.importorskip("xgboost")

SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def dict_sentences(rows: List[Dict[str, str]]) -> List[List[Dict[str, float]]]:
    """The book's items as python-crfsuite dicts: {lemma: 1.0, next-lemma: 0.5}."""
    out: List[List[Dict[str, float]]] = []
    current = None
    for r in rows:
        if r["sentence_idx"] != current:
            current = r["sentence_idx"]
            out.append([])
        item = {r["lemma"]: 1.0}
        item.setdefault(r["next-lemma"], 0.5)
        out[-1].append(item)
    return out


def labels_of(rows: List[Dict[str, str]]) -> List[List[str]]:
    out: List[List[str]] = []
    current = None
    for r in rows:
        if r["sentence_idx"] != current:
            current = r["sentence_idx"]
            out.append([])
        out[-1].append(r["tag"])
    return out


def test_exported_crf_opens_in_python_crfsuite(client: Client, ner_model: CrfTrainReport, data: Path, tmp_path: Path) -> None:
    path = tmp_path / "ner.crfsuite"
    client.models.export(NER_MODEL, path)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    try:
        assert sorted(tagger.labels()) == sorted(ner_model.model.labels)
        # The predict file: python-crfsuite tags it as the server does.
        predict = dict_sentences(read_rows(data / "ner_predict.csv"))
        local = [label for s in predict for label in tagger.tag(s)]
        assert local == client.crf.predict(NER_MODEL, data / "ner_predict.csv")
        # Many sentences, with marginals and path probabilities.
        sentences = dict_sentences(read_rows(data / "ner.csv"))[:120]
        remote = client.crf.tag(NER_MODEL, sentences, probability=True, marginals=True)
        for seq, r in zip(sentences, remote):
            assert tagger.tag(seq) == r.labels
            assert tagger.probability(r.labels) == pytest.approx(r.probability, rel=1e-6)
            assert r.marginals is not None
            for i, m in enumerate(r.marginals):
                for label, p in m.items():
                    assert tagger.marginal(label, i) == pytest.approx(p, abs=1e-9)
    finally:
        tagger.close()


def test_python_crfsuite_model_imports_and_predicts_the_same(client: Client, data: Path, tmp_path: Path) -> None:
    rows = read_rows(data / "ner.csv")
    xs, ys = dict_sentences(rows), labels_of(rows)
    trainer = pycrfsuite.Trainer(algorithm="arow", verbose=False)
    for x, y in zip(xs, ys):
        trainer.append(x, y)
    path = tmp_path / "local.crfsuite"
    trainer.train(str(path))

    info = client.models.import_model("ner-from-pycrfsuite", path, "crf")
    assert info.kind == "crf" and info.format == "crfsuite"
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    try:
        assert sorted(info.labels) == sorted(tagger.labels())
        # CSV prediction uses the book template by default (lemma 1.0, next-lemma 0.5).
        predict = dict_sentences(read_rows(data / "ner_predict.csv"))
        assert client.crf.predict("ner-from-pycrfsuite", data / "ner_predict.csv") == [label for s in predict for label in tagger.tag(s)]
        sample = xs[:150]
        assert [t.labels for t in client.crf.tag("ner-from-pycrfsuite", sample)] == [tagger.tag(s) for s in sample]
    finally:
        tagger.close()


def test_one_thread_trains_python_crfsuites_model_byte_for_byte(client: Client, data: Path, tmp_path: Path) -> None:
    """L-BFGS with ``threads: 1`` runs CRFsuite's own objective: the very model python-crfsuite
    writes from the same data and parameters. With 2 threads the sums are added in another
    order: another file, the same tags."""
    rows = read_rows(data / "ner.csv")
    xs, ys = dict_sentences(rows), labels_of(rows)
    params = {"max_iterations": 30, "c1": 0, "c2": 1}
    trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
    for x, y in zip(xs, ys):
        trainer.append(x, y)
    trainer.set_params(params)
    trainer.train(str(tmp_path / "py.crfsuite"))
    reference = (tmp_path / "py.crfsuite").read_bytes()

    files = {}
    for threads in (1, 2):
        name = f"ner-threads-{threads}"
        client.crf.train(name, sequences=list(zip(xs, ys)), algorithm="lbfgs", parameters={**params, "threads": threads}, no_holdout=True)
        client.models.export(name, tmp_path / f"{name}.crfsuite")
        files[threads] = (tmp_path / f"{name}.crfsuite").read_bytes()
    assert files[1] == reference
    assert files[2] != reference
    sample = xs[:200]
    assert [t.labels for t in client.crf.tag("ner-threads-2", sample)] == [t.labels for t in client.crf.tag("ner-threads-1", sample)]


def iris_xy(data: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = read_rows(data / "iris.csv")
    x = np.asarray([[float(r[c]) for c in FEATURES] for r in rows], dtype=np.float32)
    y = np.asarray([SPECIES.index(r["species"]) for r in rows], dtype=np.float32)
    return x, y


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_exported_xgboost_opens_in_current_xgboost(client: Client, iris_model: XgboostTrainReport, data: Path, tmp_path: Path, fmt: ModelFormat) -> None:
    path = tmp_path / f"iris.{fmt}"
    client.models.export(IRIS_MODEL, path, format=fmt)
    booster = xgb.Booster(model_file=str(path))
    x, _ = iris_xy(data)
    dm = xgb.DMatrix(x, feature_names=booster.feature_names)
    assert booster.feature_names in (None, FEATURES)
    remote_margins = client.xgboost.predict(IRIS_MODEL, x, output="margins").values
    np.testing.assert_allclose(booster.predict(dm, output_margin=True), remote_margins, rtol=1e-5, atol=1e-6)
    remote_classes = client.xgboost.predict(IRIS_MODEL, x).values[:, 0]
    local = booster.predict(dm)
    assert local.shape == (150,)  # multi:softmax: class indices
    np.testing.assert_array_equal(local, remote_classes)


def test_export_format_follows_the_file_name(client: Client, iris_model: XgboostTrainReport, data: Path, tmp_path: Path) -> None:
    """``models.export("m", "m.json")`` writes JSON (it used to write UBJ whatever the name), which
    ``Booster.load_model`` reads as JSON; ``.ubj`` writes UBJ; an explicit format wins."""
    client.models.export(IRIS_MODEL, tmp_path / "m.json")
    client.models.export(IRIS_MODEL, tmp_path / "m.ubj")
    client.models.export(IRIS_MODEL, tmp_path / "json-bytes.ubj", format="json")
    client.models.export(IRIS_MODEL, tmp_path / "m.model")
    assert (tmp_path / "m.json").read_bytes().startswith(b'{"')
    assert (tmp_path / "json-bytes.ubj").read_bytes().startswith(b'{"')
    assert (tmp_path / "m.ubj").read_bytes().startswith(b"{L")
    assert (tmp_path / "m.model").read_bytes().startswith(b"{L")  # the stored format: UBJ
    x, _ = iris_xy(data)
    want = client.xgboost.predict(IRIS_MODEL, x, output="margins").values
    for name in ("m.json", "m.ubj"):
        booster = xgb.Booster()
        booster.load_model(str(tmp_path / name))
        np.testing.assert_array_equal(booster.predict(xgb.DMatrix(x, feature_names=FEATURES), output_margin=True), want)


# --- models of every xgboost a user may have -----------------------------------------

KINDS = ["binary", "softprob", "regression", "regression-base-score"]


def outputs_of(kind: str) -> PredictOutput:
    return "probabilities" if kind in ("binary", "softprob") else "default"


def as_matrix(values: np.ndarray, rows: int) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(rows, -1)


@pytest.fixture(scope="module")
def iris_rows(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, _ = iris_xy(data)
    path = tmp_path_factory.mktemp("xgb-rows") / "rows.npy"
    np.save(path, x)
    return path


@pytest.fixture(scope="module")
def saved_by(iris_rows: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """version -> folder of the models that xgboost version trained and saved, with its predictions."""
    out: Dict[str, Path] = {}
    for version in VERSIONS:
        folder = tmp_path_factory.mktemp(f"xgb-{version}")
        assert run_worker(version, "save", str(folder), str(iris_rows)) == version
        out[version] = folder
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_models_of_every_xgboost_import_and_predict_the_same(address: str, saved_by: Dict[str, Path], iris_rows: Path, version: str) -> None:
    x = np.load(iris_rows)
    with Client(address) as c:
        for kind in KINDS:
            margins = as_matrix(np.load(saved_by[version] / f"{kind}.margins.npy"), len(x))
            outputs = as_matrix(np.load(saved_by[version] / f"{kind}.outputs.npy"), len(x))
            for fmt in ("json", "ubj"):
                name = f"xgb-{version}-{kind}-{fmt}"
                info = c.models.import_model(name, saved_by[version] / f"{kind}.{fmt}", "xgboost")
                assert info.format == "xgboost-ubj" and info.feature_names == FEATURES, info
                np.testing.assert_array_equal(c.xgboost.predict(name, x, output="margins").values, margins, err_msg=f"{name}: margins")
                np.testing.assert_array_equal(c.xgboost.predict(name, x, output=outputs_of(kind)).values, outputs, err_msg=f"{name}: outputs")


def intercepts(path: Path) -> List[float]:
    """The base_score of an exported JSON model, as a list (one value when written as a scalar)."""
    import json

    text = json.loads(path.read_text())["learner"]["learner_model_param"]["base_score"]
    return [float(v) for v in text.strip("[]").split(",")]


@pytest.mark.parametrize("target", EXPORT_TARGETS)
def test_exports_load_in_current_xgboost_with_the_same_predictions(
    address: str, saved_by: Dict[str, Path], iris_rows: Path, tmp_path: Path, target: str
) -> None:
    """Every model imported above, exported as JSON and as UBJ (by file name), loads in `target`
    and predicts what the server predicts. The multi-class models fitted by xgboost >= 3.1 (one
    intercept per class, no scalar form) are checked in 3.1+ only: earlier versions drop the
    vector (see the module's docstring)."""
    x = np.load(iris_rows)
    files: List[Path] = []
    with Client(address) as c:
        for version in VERSIONS:
            for kind in KINDS:
                name = f"xgb-{version}-{kind}-json"
                try:
                    c.models.get(name)
                except Exception:
                    c.models.import_model(name, saved_by[version] / f"{kind}.json", "xgboost")
                for fmt in ("json", "ubj"):
                    path = tmp_path / f"{name}.{fmt}"
                    c.models.export(name, path)
                    assert path.read_bytes().startswith(b'{"' if fmt == "json" else b"{L"), path
                    files.append(path)
                np.save(tmp_path / f"{name}.server-margins.npy", c.xgboost.predict(name, x, output="margins").values)
                np.save(tmp_path / f"{name}.server-outputs.npy", c.xgboost.predict(name, x, output=outputs_of(kind)).values)
    assert run_worker(target, "load", str(iris_rows), *map(str, files)) == target
    checked = 0
    for path in files:
        stem = path.name.rsplit(".", 1)[0]
        vector = len(set(intercepts(path.with_suffix(".json")))) > 1
        if vector and tuple(int(v) for v in target.split(".")[:2]) < (3, 1):
            assert "softprob" in stem and stem.split("-")[1] in ("3.1.3", "3.2.0"), stem
            continue
        for what in ("margins", "outputs"):
            local = as_matrix(np.load(f"{path}.{what}.npy"), len(x))
            np.testing.assert_array_equal(local, np.load(tmp_path / f"{stem}.server-{what}.npy"), err_msg=f"{path.name} in xgboost {target}: {what}")
        checked += 1
    assert checked >= len(files) - 4


def test_a_model_from_a_newer_xgboost_is_refused_and_the_old_model_kept(client: Client, saved_by: Dict[str, Path], iris_rows: Path, tmp_path: Path) -> None:
    """A model saved by an XGBoost newer than the server's (a future 4.0 here) is refused with
    FAILED_PRECONDITION naming both versions, and the model stored under that name stays."""
    import json

    x = np.load(iris_rows)
    client.models.import_model("kept", saved_by["3.2.0"] / "regression.json", "xgboost")
    before = client.xgboost.predict("kept", x).values
    doc = json.loads((saved_by["3.2.0"] / "binary.json").read_text())
    doc["version"] = [4, 0, 0]
    future = tmp_path / "future.json"
    future.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError) as e:
        client.models.import_model("kept", future, "xgboost")
    assert e.value.code.name == "FAILED_PRECONDITION", str(e.value)
    assert "saved by XGBoost 4.0.0" in str(e.value) and "XGBoost 3.2.0" in str(e.value), str(e.value)
    np.testing.assert_array_equal(client.xgboost.predict("kept", x).values, before)
