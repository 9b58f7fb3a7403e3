"""The package as its users install it: a wheel built from the repository (stubs inside), installed
into fresh virtual environments that hold no part of the repository, beside the libraries a data
scientist has in the same venv, and on the oldest versions of grpcio and protobuf it declares."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

# Run in each venv: the stubs import, a call goes through, tritonclient and xgboost work beside it.
SCRIPT = """
import sys, mlbridge
from mlbridge import Client
address = sys.argv[1]
with Client(address) as c:
    counts = c.text.count_words("the cat the hat")
    assert counts["the"] == 2, counts
extra = sys.argv[2:]
if "tritonclient" in extra:
    import tritonclient.grpc as tc
    t = tc.InferenceServerClient(url=address)
    assert t.is_server_live()
    t.close()
if "xgboost" in extra:
    import numpy as np, xgboost as xgb
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(np.eye(4, dtype=np.float32), label=[0, 1, 0, 1]), 2)
    assert booster.predict(xgb.DMatrix(np.eye(4, dtype=np.float32))).shape == (4,)
import google.protobuf, grpc
print("ok", mlbridge.__name__, google.protobuf.__version__, grpc.__version__)
"""


def _run(*cmd: str, cwd: Path | None = None) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=900)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(PROJECT))
    (w,) = out.glob("mlbridge-*.whl")
    return w


def _venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def test_the_wheel_carries_its_stubs(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "mlbridge/_proto/mlbridge/v1/crf_service_pb2.py" in names
    assert "mlbridge/_proto/mlbridge/v1/crf_service_pb2_grpc.py" in names
    assert "mlbridge/py.typed" in names


def test_wheel_beside_tritonclient_and_xgboost(wheel: Path, tmp_path: Path, address: str) -> None:
    py = _venv(tmp_path / "venv")
    _run(str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), "tritonclient[grpc]", "xgboost-cpu", "numpy")
    out = _run(str(py), "-c", SCRIPT, address, "tritonclient", "xgboost", cwd=tmp_path)
    assert out.startswith("ok mlbridge")


def test_wheel_on_the_oldest_declared_grpcio_and_protobuf(wheel: Path, tmp_path: Path, address: str) -> None:
    py = _venv(tmp_path / "venv")
    _run(str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), "grpcio==1.73.1", "protobuf==6.31.0")
    out = _run(str(py), "-c", SCRIPT, address, cwd=tmp_path)
    assert out.split()[2:] == ["6.31.0", "1.73.1"]
