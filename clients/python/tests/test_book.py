"""The book's Python and Java examples, against a real server.

They run on the project's own data (build/test-data: the book's formats); the tests named
``..._books_...`` reproduce the book's own files and are skipped without them.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from conftest import EXAMPLES, read_rows, run_python
from crfsuite_model import CRFSuiteModel
from iris_classification_xgboost import IrisClassificationXgboost
from mlbridge import Client, ModelNotFoundError

ACCURACY_LINE = re.compile(r"^accuracy=(0\.\d{4}|1\.0000) \((\d+)/(\d+) non-O tokens")

#: The columns of the server's default ("rich") preset, in order.
RICH_COLUMNS = [
    "word",
    "lemma",
    "pos",
    "shape",
    "prev-word",
    "prev-lemma",
    "prev-pos",
    "prev-shape",
    "next-word",
    "next-lemma",
    "next-pos",
    "next-shape",
    "prev-prev-lemma",
    "prev-prev-pos",
    "next-next-lemma",
    "next-next-pos",
]


def run_book_scripts(address: str, workdir: Path) -> Tuple[float, List[str]]:
    """Listings 11 and 12, unchanged, run from ``workdir`` (which holds data/): the accuracy
    train.py prints, and the tags predict.py prints."""
    env = {"MLBRIDGE_ADDRESS": address}
    fit = run_python(EXAMPLES / "train.py", workdir, env)
    assert fit.returncode == 0, fit.stderr
    lines = fit.stdout.splitlines()
    assert lines[-1] == "model fit done"
    m = ACCURACY_LINE.match(lines[-2])
    assert m, fit.stdout
    correct, total = int(m.group(2)), int(m.group(3))
    assert 0 < correct <= total
    assert float(m.group(1)) == pytest.approx(correct / total, abs=1e-4)
    assert fit.stderr == ""  # not a terminal: no progress bar

    pred = run_python(EXAMPLES / "predict.py", workdir, env)
    assert pred.returncode == 0, pred.stderr
    tags = ast.literal_eval(pred.stdout.strip())
    assert isinstance(tags, list)
    with Client(address) as c:
        info = c.models.get("model.crfsuite")
    assert all(isinstance(t, str) and t in info.labels for t in tags)
    # The scripts train with CRFSuiteModel's default: the rich preset.
    assert info.parameters["feature_preset"] == "rich" and info.parameters["algorithm"] == "lbfgs"
    return float(m.group(1)), tags


def test_book_scripts_end_to_end(address: str, data_workdir: Path, data: Path) -> None:
    """The book's scripts on the project's data: "Thousands of protesters marched through London
    on Friday to oppose the war ." """
    accuracy, tags = run_book_scripts(address, data_workdir)
    # Measured: 0.9697 (704/726 non-O tokens; token accuracy 0.9884).
    assert accuracy > 0.93
    assert len(tags) == len(read_rows(data / "ner_predict.csv")) == 13
    # Measured with the default (rich) preset: London (5) is a place, Friday (7) a time.
    assert tags[5] == "B-geo" and tags[7] == "B-tim"


def test_book_scripts_end_to_end_on_the_books_files(address: str, book_workdir: Path, book: Path) -> None:
    """The book's scripts on the book's own files, as in the book."""
    accuracy, tags = run_book_scripts(address, book_workdir)
    # Measured on the book's ner.csv: 0.7538 (248/329) with the default (rich) preset; the book's preset gets 0.5562.
    assert accuracy > 0.7
    assert len(tags) == len(read_rows(book / "ner_predict.csv")) == 9
    # "Thousands of demonstrators have marched through London ...": London is a place.
    assert tags[6] == "B-geo"


def test_book_preset_reproduces_the_books_model(address: str, book: Path) -> None:
    """feature_preset="book" on the book's own files: the book's 457 sentences and 9,999 tokens,
    its features and algorithm, and its predict sentence's 9 tags with London a place."""
    with CRFSuiteModel("crfsuite-model-books-files", address=address) as model:
        report = model.client.crf.train(model.model_name, book / "ner.csv", feature_preset="book")
        assert report.train_sequences + report.test_sequences == 457
        assert report.train_tokens + report.test_tokens == 9999
        info = model.info()
        assert info.parameters["algorithm"] == "arow"
        assert [(f.column, f.weight) for f in info.feature_template] == [("lemma", 1.0), ("next-lemma", 0.5)]
        assert report.metrics is not None
        assert report.metrics.book_accuracy > 0.5  # measured: 0.5562 (183/329)
        tags = model.predict(book / "ner_predict.csv")
        assert len(tags) == 9 and tags[6] == "B-geo"


def test_predict_script_without_model_fails_cleanly(data_workdir: Path, closed_address: str) -> None:
    """No server: the script fails with mlbridge's error, not a raw gRPC traceback."""
    res = run_python(EXAMPLES / "predict.py", data_workdir, {"MLBRIDGE_ADDRESS": closed_address})
    assert res.returncode == 1
    assert "mlbridge.errors.ServerUnavailableError" in res.stderr
    assert closed_address in res.stderr
    assert "_InactiveRpcError" not in res.stderr and "grpc._channel" not in res.stderr


def test_crfsuite_model_in_process(address: str, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """By default fit() trains the accurate model: the server's rich preset, L-BFGS."""
    with CRFSuiteModel("crfsuite-model-test", address=address) as model:
        assert model.fit(str(data / "ner.csv")) == "model fit done"
        out = capsys.readouterr()
        assert ACCURACY_LINE.match(out.out.splitlines()[-1])
        assert out.err == ""
        info = model.info()
        assert info.kind == "crf"
        assert info.parameters["feature_preset"] == "rich"
        assert info.parameters["algorithm"] == "lbfgs"
        assert [(f.column, f.prefix) for f in info.feature_template] == [(c, f"{c}=") for c in RICH_COLUMNS]
        assert "O" in info.labels and "B-geo" in info.labels
        assert info.metrics["book_accuracy"] > 0.93  # measured: 0.9697 (704/726)
        tags = model.predict(data / "ner_predict.csv")
        assert len(tags) == 13
        assert tags[5] == "B-geo" and tags[7] == "B-tim"  # London, Friday
        assert tags == model.client.crf.predict(model.model_name, data / "ner_predict.csv")
        # Unseen sentences (another seed). Measured: non-O 0.9708, token accuracy 0.9872 (9,200 tokens).
        gold = [r["tag"] for r in read_rows(data / "ner_holdout.csv")]
        got = model.predict(data / "ner_holdout.csv")
        assert len(got) == len(gold)
        non_o = [(g, p) for g, p in zip(gold, got) if g != "O"]
        assert sum(g == p for g, p in non_o) / len(non_o) > 0.93
        assert sum(g == p for g, p in zip(gold, got)) / len(gold) > 0.97


def test_crfsuite_model_book_preset(address: str, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """feature_preset="book" is the book's model: lemma 1.0 and next-lemma 0.5, AROW."""
    with CRFSuiteModel("crfsuite-model-book-preset", address=address) as model:
        assert model.fit(data / "ner.csv", feature_preset="book") == "model fit done"
        assert ACCURACY_LINE.match(capsys.readouterr().out.splitlines()[-1])
        info = model.info()
        assert info.parameters["feature_preset"] == "book"
        assert info.parameters["algorithm"] == "arow"
        assert [(f.column, f.weight, f.prefix) for f in info.feature_template] == [("lemma", 1.0, ""), ("next-lemma", 0.5, "")]
        assert info.metrics["book_accuracy"] > 0.92  # measured: 0.9614 (698/726)
        tags = model.predict(data / "ner_predict.csv")
        assert len(tags) == 13 and all(t in info.labels for t in tags)


def test_crfsuite_model_options_reach_the_server(address: str, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fit(**options) goes through to the training; no holdout means no accuracy line."""
    model = CRFSuiteModel("crfsuite-model-options", address=address)
    try:
        assert model.fit(data / "ner.csv", algorithm="ap", parameters={"max_iterations": 5}, no_holdout=True) == "model fit done"
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


@pytest.mark.parametrize(
    "preset, shows",
    [
        (None, "training: iteration "),  # rich: L-BFGS runs until it converges, no known total
        ("book", "/100"),  # AROW: CRFsuite's default of 100 iterations
    ],
)
def test_fit_shows_progress_bar_on_a_terminal(
    address: str, data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], preset: Optional[str], shows: str
) -> None:
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    with CRFSuiteModel(f"crfsuite-model-bar-{preset}", address=address) as model:
        if preset is None:
            model.fit(data / "ner.csv")
        else:
            model.fit(data / "ner.csv", feature_preset=preset)
    shown = tty.getvalue()
    assert shows in shown
    assert ("training [" in shown) == (preset == "book")
    assert shown.endswith("\r\x1b[K")  # the bar is cleared at the end


def test_crfsuite_model_predict_unknown_model(address: str, data: Path) -> None:
    with CRFSuiteModel("never-trained", address=address) as model:
        with pytest.raises(ModelNotFoundError, match="model 'never-trained' not found"):
            model.predict(data / "ner_predict.csv")


def test_iris_classification_xgboost(address: str, data_workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The book's Java class: fit() prints each round's evaluation, predict() returns setosa."""
    monkeypatch.chdir(data_workdir)
    monkeypatch.setenv("MLBRIDGE_ADDRESS", address)
    IrisClassificationXgboost.fit()
    out = capsys.readouterr().out
    rounds = [line for line in out.splitlines() if line.startswith("[")]
    assert len(rounds) == 2, out
    assert rounds[0].startswith("[0]") and rounds[1].startswith("[1]")
    assert all("test-merror" in r for r in rounds)
    assert "xgb.model" in out
    assert IrisClassificationXgboost.predict() == "setosa"
    with Client(address) as c:
        info = c.models.get("xgb.model")
    assert info.kind == "xgboost"
    assert info.labels == ["setosa", "versicolor", "virginica"]
