"""XgboostService through client.xgboost: an iris model with the book's parameters, numpy and list inputs."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

from conftest import IRIS_MODEL, read_rows
from mlbridge import Client, InvalidInputError, TrainProgress, XgboostTrainReport

SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris(data: Path) -> tuple[List[List[float]], List[str]]:
    rows = read_rows(data / "iris.csv")
    return [[float(r[c]) for c in FEATURES] for r in rows], [r["species"] for r in rows]


def test_iris_report(iris_model: XgboostTrainReport) -> None:
    r = iris_model
    assert r.rounds == 2
    assert r.model.kind == "xgboost" and r.model.format == "xgboost-ubj"
    assert r.model.labels == SPECIES
    assert r.model.feature_names == FEATURES
    assert r.train_rows + r.test_rows + r.validation_rows == 150
    assert r.test_rows == 30 and r.validation_rows == 30
    # Measured on the project's iris.csv: test-merror 0.1 (3/30), validation accuracy 0.9 (27/30).
    assert "test-merror" in r.metrics and 0 <= r.metrics["test-merror"] <= 0.2
    assert 0.8 <= r.validation_accuracy <= 1
    assert r.model.parameters["objective"] == "multi:softmax"


def test_iris_training_reports_each_round(client: Client, data: Path) -> None:
    events: List[TrainProgress] = []
    client.xgboost.train("iris-progress", data / "iris.csv", preset="iris", num_rounds=4, on_progress=events.append)
    rounds = [e for e in events if e.stage == "training"]
    assert [e.iteration for e in rounds] == [1, 2, 3, 4]
    for i, e in enumerate(rounds):
        assert e.eval_log.startswith(f"[{i}]") and "test-merror" in e.eval_log
        assert "test-merror" in e.metrics


def test_predict_csv_is_setosa(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    res = client.xgboost.predict(IRIS_MODEL, csv_path=data / "predict.csv")
    assert res.class_names == ["setosa"]
    assert isinstance(res.values, np.ndarray) and res.values.shape == (1, 1) and res.values.dtype == np.float32
    assert res.values[0, 0] == 0.0


def test_numpy_and_list_inputs_agree(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    rows, species = iris(data)
    arr = np.asarray(rows, dtype=np.float64)  # converted to float32 on the way
    for output in ("default", "probabilities", "margins"):
        a = client.xgboost.predict(IRIS_MODEL, arr, output=output)
        b = client.xgboost.predict(IRIS_MODEL, rows, output=output)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.class_names == b.class_names
        assert a.values.shape == (150, 1 if output == "default" else 3)
    # A Fortran-ordered or sliced array is sent row-major all the same.
    c = client.xgboost.predict(IRIS_MODEL, np.asfortranarray(arr)[::2])
    np.testing.assert_array_equal(c.values, client.xgboost.predict(IRIS_MODEL, rows[::2]).values)
    # The CSV route (columns by name) gives the same as the matrix route.
    d = client.xgboost.predict(IRIS_MODEL, csv_path=data / "iris.csv")
    np.testing.assert_array_equal(d.values, client.xgboost.predict(IRIS_MODEL, rows).values)


def test_numpy_results_are_writable_float32_arrays(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    rows, _ = iris(data)
    res = client.xgboost.predict(IRIS_MODEL, np.asarray(rows), output="probabilities")
    assert res.values.dtype == np.float32 and res.values.flags.writeable  # a copy, not a read-only view of the reply's bytes
    assert res.values.shape == (150, 3) and res.rows == 150 and res.cols == 3
    res.values[0, 0] = 2.0
    assert res.values[0, 0] == 2.0


def test_class_names_can_be_left_out(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    rows, _ = iris(data)
    with_names = client.xgboost.predict(IRIS_MODEL, np.asarray(rows))
    without = client.xgboost.predict(IRIS_MODEL, np.asarray(rows), class_names=False)
    assert without.class_names == [] and len(with_names.class_names) == 150
    np.testing.assert_array_equal(without.values, with_names.values)
    labels = client.models.get(IRIS_MODEL).labels
    assert [labels[int(i)] for i in without.values[:, 0]] == with_names.class_names


def test_probabilities_and_classes(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    rows, species = iris(data)
    probs = client.xgboost.predict(IRIS_MODEL, rows, output="probabilities")
    np.testing.assert_allclose(probs.values.sum(axis=1), 1.0, rtol=1e-5)
    default = client.xgboost.predict(IRIS_MODEL, rows)
    np.testing.assert_array_equal(default.values[:, 0], probs.values.argmax(axis=1))
    assert default.class_names == [SPECIES[int(i)] for i in default.values[:, 0]]
    accuracy = np.mean([p == s for p, s in zip(default.class_names, species)])
    assert accuracy > 0.9  # measured: 0.9533 (143/150) on the project's iris.csv, 2 rounds


def test_train_on_matrix_with_weights(client: Client, data: Path) -> None:
    rows, species = iris(data)
    x = np.asarray(rows, dtype=np.float32)
    y = np.asarray([SPECIES.index(s) for s in species], dtype=np.float32)
    report = client.xgboost.train(
        "iris-matrix",
        features=x,
        labels=y,
        weights=np.ones(len(y)),
        parameters={"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.5},
        num_rounds=5,
        test_fraction=0.2,
        seed=3,
        feature_names=FEATURES,
        class_names=SPECIES,
    )
    assert report.rounds == 5 and report.model.labels == SPECIES and report.model.feature_names == FEATURES
    assert report.train_rows == 120 and report.test_rows == 30
    res = client.xgboost.predict("iris-matrix", x)
    assert res.values.shape == (150, 3)  # softprob: probabilities by default
    assert res.class_names == [SPECIES[i] for i in res.values.argmax(axis=1)]


def test_matrix_shape_errors(client: Client, iris_model: XgboostTrainReport) -> None:
    with pytest.raises(InvalidInputError, match="cols|feature"):
        client.xgboost.predict(IRIS_MODEL, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="row 1 has 3 values"):
        client.xgboost.predict(IRIS_MODEL, [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="2-D"):
        client.xgboost.predict(IRIS_MODEL, np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="unknown 'logits'"):
        client.xgboost.predict(IRIS_MODEL, [[1.0, 2.0, 3.0, 4.0]], output="logits")
    with pytest.raises(ValueError, match="labels"):
        client.xgboost.train("x", features=[[1.0]], labels=[1.0, 2.0])


def test_missing_values_are_nan(client: Client, iris_model: XgboostTrainReport) -> None:
    res = client.xgboost.predict(IRIS_MODEL, np.array([[np.nan, np.nan, 1.4, 0.2]], dtype=np.float32))
    assert res.class_names == ["setosa"]


def test_without_numpy_values_are_lists(client: Client, iris_model: XgboostTrainReport, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where numpy is not installed, inputs are lists and values come back as a list of rows."""
    rows, _ = iris(data)
    expected = client.xgboost.predict(IRIS_MODEL, rows[:20], output="probabilities")
    import mlbridge._matrix
    import mlbridge._xgb

    monkeypatch.setattr(mlbridge._matrix, "numpy_module", lambda: None)
    monkeypatch.setattr(mlbridge._xgb, "numpy_module", lambda: None)
    res = client.xgboost.predict(IRIS_MODEL, rows[:20], output="probabilities")
    assert isinstance(res.values, list) and len(res.values) == 20 and all(len(r) == 3 for r in res.values)
    assert res.values == expected.values.tolist()
    assert res.class_names == expected.class_names
    report = client.xgboost.train(
        "iris-lists", features=rows, labels=[SPECIES.index(s) for s in iris(data)[1]], parameters={"objective": "multi:softmax", "num_class": 3}, num_rounds=2
    )
    assert report.train_rows + report.test_rows == 150
