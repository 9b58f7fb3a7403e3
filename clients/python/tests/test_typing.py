"""The client's types, as a user's type checker sees them: `mypy --strict` on code that calls the
client (through the installed package and its py.typed marker). A misspelt choice is an error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

PROJECT = Path(__file__).resolve().parents[1]

USER_CODE = """
import asyncio
import numpy as np
from numpy.typing import NDArray
from mlbridge import Client, PredictResult, aio
from mlbridge.sklearn import XGBClassifier

def sync(c: Client) -> NDArray[np.float32]:
    ok: PredictResult = c.xgboost.predict("m", [[1.0]], output="probabilities")
    c.xgboost.predict("m", [[1.0]], output="probabilites")  # line 10: misspelt
    c.crf.train("n", "ner.csv", algorithm="lbgfs")  # line 11: misspelt
    c.models.export("n", "n.json", format="jsn")  # line 12: misspelt
    return ok.values

async def asynchronous(c: aio.Client) -> None:
    await c.xgboost.predict("m", [[1.0]], output="margins")
    await c.xgboost.predict("m", [[1.0]], output="probabilites")  # line 17: misspelt
    await c.models.list(kind="svm")  # line 18: misspelt

def estimator() -> None:
    XGBClassifier(n_estimators=5).fit([[1.0]], ["a"])
"""


def test_misspelt_choices_are_type_errors(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE)
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--no-color-output",
            "--cache-dir",
            str(PROJECT / ".mypy_cache"),
            "--config-file",
            str(PROJECT / "pyproject.toml"),
            str(source),
        ]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    lines = sorted(int(m.group(1)) for line in errors if (m := re.search(r"user_code\.py:(\d+): error", line)))
    assert lines == [10, 11, 12, 17, 18], stdout + stderr
    assert any("probabilites" in e and "Literal['default', 'probabilities', 'margins']" in e for e in errors), stdout
    assert status == 1
