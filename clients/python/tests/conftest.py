"""Fixtures: a real mlbridge server (node packages/server/dist/cli.js), the project's test data
(build/test-data, always there) and the book's own data (optional: its tests skip without it)."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from mlbridge import Client, CrfTrainReport, XgboostTrainReport

PROJECT = Path(__file__).resolve().parents[1]
REPO = PROJECT.parents[1]
#: The server under test; MLBRIDGE_SERVER_CLI overrides it.
SERVER_CLI = Path(os.environ.get("MLBRIDGE_SERVER_CLI") or REPO / "packages" / "server" / "dist" / "cli.js")
EXAMPLES = REPO / "examples" / "python"

#: The project's own test data, in the book's formats (iris.csv, predict.csv, ner.csv,
#: ner_predict.csv, ner_holdout.csv, ner_large.csv): made by scripts/make-test-data.mjs
#: from what the repository ships, so a plain clone tests fully.
DATA_DIR = REPO / "build" / "test-data"
MAKE_TEST_DATA = REPO / "scripts" / "make-test-data.mjs"

#: Model names trained once per session (on the project's data).
NER_MODEL = "ner-book-preset"
IRIS_MODEL = "iris-preset"


def shared_dir() -> Path:
    """The shared folder: $MLBRIDGE_SHARED, else <repo>/../shared."""
    env = os.environ.get("MLBRIDGE_SHARED")
    return Path(env).resolve() if env else REPO.parent / "shared"


def book_dir() -> Optional[Path]:
    """The book's own data (ner.csv, ner_predict.csv, iris.csv, predict.csv):
    $MLBRIDGE_SHARED/data/book, else <repo>/../shared/data/book; None when absent."""
    base = shared_dir()
    for candidate in (base / "data" / "book", base / "book", base):
        if (candidate / "ner.csv").is_file() and (candidate / "iris.csv").is_file():
            return candidate
    return None


def book_skip_reason() -> str:
    """Why the book's tests are skipped."""
    return f"the book's own data is not at {shared_dir() / 'data' / 'book'} (set MLBRIDGE_SHARED to the folder holding data/book)"


def make_test_data() -> Path:
    """Makes (or brings up to date) the project's test data; instant when it is up to date."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: it makes the test data (scripts/make-test-data.mjs)")
    subprocess.run([node, str(MAKE_TEST_DATA), str(DATA_DIR)], check=True, stdin=subprocess.DEVNULL, timeout=300)
    return DATA_DIR


# --- the book's tests: skipped, and said so in one line, without the book's data ---


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Without the book's data, every test that uses the `book` fixture (directly or through
    another fixture) is skipped before any of its fixtures is set up."""
    if book_dir() is not None:
        return
    skip = pytest.mark.skip(reason=book_skip_reason())
    for item in items:
        if "book" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line saying how many of the book's tests were skipped, and why."""
    if book_dir() is not None:
        return
    reason = book_skip_reason()
    n = sum(1 for r in terminalreporter.stats.get("skipped", []) if isinstance(r.longrepr, tuple) and reason in str(r.longrepr[2]))
    terminalreporter.write_line(
        f"mlbridge: {reason}: {n} {'test that reproduces' if n == 1 else 'tests that reproduce'} the book's files "
        f"{'is' if n == 1 else 'are'} skipped; every other test runs on the project's own data ({DATA_DIR.relative_to(REPO)})",
        yellow=True,
    )


@dataclass
class ServerProcess:
    """A server started for the tests."""

    address: str
    model_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    args: List[str] = field(default_factory=list)
    #: host:port of its HTTP listener (the V2 REST protocol, /metrics).
    http_address: str = ""

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 20) -> int:
        """SIGTERMs the server; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(workdir: Path, *extra_args: str, timeout: float = 60) -> ServerProcess:
    """Starts ``node cli.js serve`` on a free port with a model dir under ``workdir``;
    waits for --port-file."""
    if not SERVER_CLI.is_file():
        raise RuntimeError(f"{SERVER_CLI} is missing: build the server first (cd {REPO} && npx nx run server:build)")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH")
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = workdir / "models"
    port_file = workdir / "port"
    log_path = workdir / "server.log"
    args = [
        node,
        str(SERVER_CLI),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--http-port",
        "0",
        "--model-dir",
        str(model_dir),
        "--port-file",
        str(port_file),
        "--http-port-file",
        str(workdir / "http-port"),
        "--grace-seconds",
        "2",
        # Trainings at the server's priority: the suites run side by side with other work, which a
        # niced training (the default, +19) yields to until it nearly stops. The server's tests
        # cover the priority itself.
        "--train-nice",
        "0",
        *extra_args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBRIDGE_")}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while True:
        if port_file.exists():
            text = port_file.read_text()
            if text.endswith("\n") and text.strip().isdigit():
                break
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not write {port_file} within {timeout} s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    http_port = workdir / "http-port"  # written before the gRPC port file
    http = f"127.0.0.1:{int(http_port.read_text())}" if http_port.exists() else ""
    return ServerProcess(f"127.0.0.1:{int(port_file.read_text())}", model_dir, log_path, proc, args, http)


@pytest.fixture(scope="session")
def data() -> Path:
    """The project's test data folder (build/test-data), made once per session."""
    return make_test_data()


@pytest.fixture(scope="session")
def book() -> Path:
    """The book's own ner.csv, ner_predict.csv, iris.csv and predict.csv; skips the test when absent.
    Only for tests that reproduce the book's files: every other test uses `data`."""
    found = book_dir()
    if found is None:
        pytest.skip(book_skip_reason())
    return found


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The session's server: no auth, no TLS, a temporary model store."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    code = srv.stop()
    assert code == 0, f"the server exited with {code} on SIGTERM:\n{srv.log()[-4000:]}"


@pytest.fixture(scope="session")
def address(server: ServerProcess) -> str:
    return server.address


@pytest.fixture(scope="session")
def http_address(server: ServerProcess) -> str:
    """host:port of the session server's HTTP listener."""
    assert server.http_address, "the server wrote no HTTP port"
    return server.http_address


@pytest.fixture
def client(address: str) -> Iterator[Client]:
    with Client(address, timeout=300) as c:
        yield c


@pytest.fixture(scope="session")
def ner_model(address: str, data: Path) -> CrfTrainReport:
    """A NER model with the book's preset (lemma 1.0 + next-lemma 0.5, AROW), so that items
    built like the book's (`book_items`) tag as its CSV rows do; trained once on the
    project's ner.csv."""
    with Client(address, timeout=300) as c:
        return c.crf.train(NER_MODEL, data / "ner.csv", feature_preset="book")


@pytest.fixture(scope="session")
def iris_model(address: str, data: Path) -> XgboostTrainReport:
    """An iris booster with the book's parameters (preset iris), trained once on the project's iris.csv."""
    with Client(address, timeout=300) as c:
        return c.xgboost.train(IRIS_MODEL, data / "iris.csv", preset="iris")


@pytest.fixture
def data_workdir(tmp_path: Path, data: Path) -> Path:
    """A working directory holding a `data` symlink to the project's test data, as the book's scripts expect."""
    (tmp_path / "data").symlink_to(data, target_is_directory=True)
    return tmp_path


@pytest.fixture
def book_workdir(tmp_path: Path, book: Path) -> Path:
    """A working directory holding a `data` symlink to the book's data, as the book's scripts expect."""
    (tmp_path / "data").symlink_to(book, target_is_directory=True)
    return tmp_path


@pytest.fixture
def closed_address() -> str:
    """An address on which nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


# --- the CSVs (the book's format), read in Python ----------------------------


def read_rows(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


Item = List[Tuple[str, float]]


def book_items(rows: Sequence[Dict[str, str]]) -> List[List[Item]]:
    """Sentences of the book's items (lemma 1.0, next-lemma 0.5), grouped by sentence_idx."""
    sentences: List[List[Item]] = []
    current: Optional[str] = None
    for r in rows:
        if r["sentence_idx"] != current:
            current = r["sentence_idx"]
            sentences.append([])
        sentences[-1].append([(r["lemma"], 1.0), (r["next-lemma"], 0.5)])
    return sentences


def run_python(script: Path, cwd: Path, env_extra: Dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBRIDGE_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
