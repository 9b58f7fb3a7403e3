"""The book's Python and Java examples, against a real server."""
from __future__ import annotations

import ast
import io
import re
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, read_rows, run_python
from crfsuite_model import CRFSuiteModel
from iris_classification_xgboost import IrisClassificationXgboost
from mlbridge import Client, ModelNotFoundError

ACCURACY_LINE = re.compile(r"^accuracy=(0\.\d{4}|1\.0000) \((\d+)/(\d+) non-O tokens")


def test_book_scripts_end_to_end(address: str, book_workdir: Path, book: Path) -> None:
    """Listings 11 and 12, unchanged, run from a folder holding data/."""
    env = {"MLBRIDGE_ADDRESS": address}
    fit = run_python(EXAMPLES / "train.py", book_workdir, env)
    assert fit.returncode == 0, fit.stderr
    lines = fit.stdout.splitlines()
    assert lines[-1] == "model fit done"
    m = ACCURACY_LINE.match(lines[-2])
    assert m, fit.stdout
    correct, total = int(m.group(2)), int(m.group(3))
    assert 0 < correct <= total
    assert float(m.group(1)) == pytest.approx(correct / total, abs=1e-4)
    assert fit.stderr == ""  # not a terminal: no progress bar

    pred = run_python(EXAMPLES / "predict.py", book_workdir, env)
    assert pred.returncode == 0, pred.stderr
    tags = ast.literal_eval(pred.stdout.strip())
    assert isinstance(tags, list)
    assert len(tags) == len(read_rows(book / "ner_predict.csv")) == 9
    with Client(address) as c:
        labels = set(c.models.get("model.crfsuite").labels)
    assert all(isinstance(t, str) and t in labels for t in tags)
    # "Thousands of demonstrators have marched through London ...": London is a place.
    assert tags[6] == "B-geo"


def test_predict_script_without_model_fails_cleanly(tmp_path: Path, book: Path, closed_address: str) -> None:
    """No server: the script fails with mlbridge's error, not a raw gRPC traceback."""
    (tmp_path / "data").symlink_to(book, target_is_directory=True)
    res = run_python(EXAMPLES / "predict.py", tmp_path, {"MLBRIDGE_ADDRESS": closed_address})
    assert res.returncode == 1
    assert "mlbridge.errors.ServerUnavailableError" in res.stderr
    assert closed_address in res.stderr
    assert "_InactiveRpcError" not in res.stderr and "grpc._channel" not in res.stderr


def test_crfsuite_model_in_process(address: str, book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with CRFSuiteModel("crfsuite-model-test", address=address) as model:
        assert model.fit(str(book / "ner.csv")) == "model fit done"
        out = capsys.readouterr()
        assert ACCURACY_LINE.match(out.out.splitlines()[-1])
        assert out.err == ""
        info = model.info()
        assert info.kind == "crf"
        assert info.parameters["feature_preset"] == "book"
        assert info.parameters["algorithm"] == "arow"
        assert [(f.column, f.weight) for f in info.feature_template] == [("lemma", 1.0), ("next-lemma", 0.5)]
        assert "O" in info.labels and "B-geo" in info.labels
        assert info.metrics["book_accuracy"] > 0.5
        tags = model.predict(book / "ner_predict.csv")
        assert len(tags) == 9
        assert tags == model.client.crf.predict("crfsuite-model-test", book / "ner_predict.csv")


def test_crfsuite_model_options_reach_the_server(address: str, book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fit(**options) goes through to the training; no holdout means no accuracy line."""
    model = CRFSuiteModel("crfsuite-model-options", address=address)
    try:
        assert model.fit(book / "ner.csv", algorithm="ap", parameters={"max_iterations": 5}, no_holdout=True) == "model fit done"
        assert capsys.readouterr().out == ""
        info = model.info()
        assert info.parameters["algorithm"] == "ap"
        assert info.parameters["max_iterations"] == "5"
        assert info.metrics == {}
    finally:
        model.close()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fit_shows_progress_bar_on_a_terminal(address: str, book: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    with CRFSuiteModel("crfsuite-model-bar", address=address) as model:
        model.fit(book / "ner.csv")
    shown = tty.getvalue()
    assert "training [" in shown and "/100" in shown
    assert shown.endswith("\r\x1b[K")  # the bar is cleared at the end


def test_crfsuite_model_predict_unknown_model(address: str, book: Path) -> None:
    with CRFSuiteModel("never-trained", address=address) as model:
        with pytest.raises(ModelNotFoundError, match="model 'never-trained' not found"):
            model.predict(book / "ner_predict.csv")


def test_iris_classification_xgboost(address: str, book_workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The book's Java class: fit() prints each round's evaluation, predict() returns setosa."""
    monkeypatch.chdir(book_workdir)
    monkeypatch.setenv("MLBRIDGE_ADDRESS", address)
    IrisClassificationXgboost.fit()
    out = capsys.readouterr().out
    rounds = [l for l in out.splitlines() if l.startswith("[")]
    assert len(rounds) == 2, out
    assert rounds[0].startswith("[0]") and rounds[1].startswith("[1]")
    assert all("test-merror" in r for r in rounds)
    assert "xgb.model" in out
    assert IrisClassificationXgboost.predict() == "setosa"
    with Client(address) as c:
        info = c.models.get("xgb.model")
    assert info.kind == "xgboost"
    assert info.labels == ["setosa", "versicolor", "virginica"]
