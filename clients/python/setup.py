"""Generates the gRPC stubs from the repository's proto/ before setuptools finds the packages.

The stubs are never committed: `pip install ./clients/python` (or `python -m build`) from a clone
generates them here with the grpcio-tools pinned in pyproject.toml's build requirements, so the
wheel and the sdist carry them and install on a machine without the repository. Built from an
sdist (no proto/ beside it), the stubs it carries are used as they are.
"""

import subprocess
import sys
from pathlib import Path

from setuptools import setup

PROJECT = Path(__file__).resolve().parent
PROTO = PROJECT.parent.parent / "proto" / "mlbridge" / "v1"
STUB = PROJECT / "src" / "mlbridge" / "_proto" / "mlbridge" / "v1" / "crf_service_pb2.py"

if PROTO.is_dir():
    subprocess.run([sys.executable, str(PROJECT / "scripts" / "gen_stubs.py")], check=True)
elif not STUB.exists():
    sys.exit(
        "mlbridge: the gRPC stubs are generated from the repository's proto/ folder, which is not beside "
        f"{PROJECT}: install from a clone of the repository (pip install ./clients/python) or from a built wheel"
    )

setup()
