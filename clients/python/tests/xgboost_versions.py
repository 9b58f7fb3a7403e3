"""Virtual environments holding the xgboost versions a user may have saved a model with.

One venv per version in ~/.cache/mlbridge/xgboost-venvs/<version> ($MLBRIDGE_XGBOOST_VENVS
points elsewhere), outside the clone, made on first use with pip (from the package index pip is
configured with) and kept. Measured on 2 cores (first run, downloads included): 1.7.6 and 2.0.3
(the full `xgboost` wheel: there is no `xgboost-cpu` before 2.1) ~18 s and 530 / 660 MB each;
2.1.4 ... 3.2.0 (`xgboost-cpu`) ~12 s and ~255 MB each; ~80 s and 2.2 GB for all six. Later runs
only check a stamp file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

#: Every xgboost a user may have saved a model with (the newest patch of each minor).
VERSIONS = ["1.7.6", "2.0.3", "2.1.4", "3.0.5", "3.1.3", "3.2.0"]
#: The versions an exported model must load in.
EXPORT_TARGETS = ["2.1.4", "3.0.5", "3.1.3", "3.2.0"]

WORKER = Path(__file__).resolve().parent / "xgboost_worker.py"


def venvs_root() -> Path:
    env = os.environ.get("MLBRIDGE_XGBOOST_VENVS")
    return Path(env) if env else Path.home() / ".cache" / "mlbridge" / "xgboost-venvs"


def requirements(version: str) -> List[str]:
    """What the venv of `version` installs: `xgboost-cpu` (no CUDA libraries) where it exists
    (2.1 and later); numpy < 2 for the versions released before numpy 2."""
    major, minor = (int(p) for p in version.split(".")[:2])
    if (major, minor) < (2, 1):
        return [f"xgboost=={version}", "numpy<2", "scipy"]
    return [f"xgboost-cpu=={version}", "numpy", "scipy"]


def python_of(version: str) -> Path:
    """The Python of the venv holding xgboost `version`, made (once, under a file lock) if missing.
    Raises RuntimeError with pip's output when it cannot be made."""
    root = venvs_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / version
    stamp = venv / ".mlbridge-ok"
    python = venv / "bin" / "python"
    if stamp.is_file():
        return python
    with open(root / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        log = root / f"{version}.log"
        with open(log, "w") as out:
            ok = subprocess.run([sys.executable, "-m", "venv", str(venv)], stdout=out, stderr=subprocess.STDOUT).returncode == 0
            ok = ok and (
                subprocess.run(
                    [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements(version)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                ).returncode
                == 0
            )
        if not ok:
            raise RuntimeError(f"could not make the xgboost {version} venv in {venv}:\n{log.read_text(errors='replace')[-3000:]}")
        stamp.write_text(" ".join(requirements(version)) + "\n")
    return python


def run_worker(version: str, *args: str) -> str:
    """Runs xgboost_worker.py with xgboost `version`; returns its last line (the version)."""
    proc = subprocess.run([str(python_of(version)), str(WORKER), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"xgboost {version} worker {args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]
