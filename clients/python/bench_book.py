#!/usr/bin/env python3
"""Times the book's NER example three ways, in one run on one machine:

1. ``book scripts``: examples/python/train.py then predict.py (Listings 11 and 12,
   unchanged) as two Python processes against an mlbridge server — what a user
   of the book runs (interpreter start, imports, upload, training, tagging).
   They train with CRFSuiteModel's default, the rich preset (L-BFGS): not the
   same training as the two rows below;
2. ``CRFSuiteModel in-process``: fit(feature_preset="book") + predict from this
   process (no interpreter start-up): the book's model, as python-crfsuite trains it;
3. ``python-crfsuite in-process``: the same work without a server — read the
   CSV, lemma 1.0 + next-lemma 0.5 attributes, sentences as sequences, an 80/20
   sentence split, AROW training to a model file, tagging the holdout (the
   book's accuracy) and the predict file.

Usage: .venv/bin/python bench_book.py [--repeat N] [--address HOST:PORT] [--data DIR]
Without --address (or MLBRIDGE_ADDRESS) it starts packages/server/dist/cli.js on a free port.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXAMPLES = REPO / "examples" / "python"
SERVER_CLI = REPO / "packages" / "server" / "dist" / "cli.js"


def book_dir() -> Path:
    env = os.environ.get("MLBRIDGE_SHARED")
    base = Path(env) if env else REPO.parent / "shared"
    for c in (base / "data" / "book", base):
        if (c / "ner.csv").is_file():
            return c
    sys.exit(f"bench_book: the book's data is not under {base} (set MLBRIDGE_SHARED)")


@contextlib.contextmanager
def server(workdir: Path) -> Iterator[str]:
    port_file = workdir / "port"
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen(
        ["node", str(SERVER_CLI), "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "0", "--model-dir", str(workdir / "models"),
         "--port-file", str(port_file), "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench_book: the server did not start:\n{(workdir / 'server.log').read_text()}")
            time.sleep(0.05)
        yield f"127.0.0.1:{int(port_file.read_text())}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


def run_scripts(address: str, workdir: Path) -> Tuple[float, float, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBRIDGE_")}
    env["MLBRIDGE_ADDRESS"] = address
    times = []
    outs = []
    for script in ("train.py", "predict.py"):
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=workdir, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            sys.exit(f"bench_book: {script} failed:\n{res.stderr}")
        outs.append(res.stdout.strip())
    return times[0], times[1], outs[0], outs[1]


def run_client(address: str, data: Path) -> Tuple[float, float, str]:
    from crfsuite_model import CRFSuiteModel

    out = io.StringIO()
    with CRFSuiteModel("bench.crfsuite", address=address) as model:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            model.fit(data / "ner.csv", feature_preset="book")
        t1 = time.perf_counter()
        model.predict(data / "ner_predict.csv")
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, out.getvalue().strip()


def sentences(path: Path, with_tags: bool) -> Tuple[List[List[Dict[str, float]]], List[List[str]]]:
    xs: List[List[Dict[str, float]]] = []
    ys: List[List[str]] = []
    current = None
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["sentence_idx"] != current:
                current = r["sentence_idx"]
                xs.append([])
                ys.append([])
            item = {r["lemma"]: 1.0}
            item.setdefault(r["next-lemma"], 0.5)
            xs[-1].append(item)
            if with_tags:
                ys[-1].append(r["tag"])
    return xs, ys


def run_pycrfsuite(data: Path, workdir: Path) -> Tuple[float, float, str]:
    import pycrfsuite

    t0 = time.perf_counter()
    xs, ys = sentences(data / "ner.csv", True)
    order = list(range(len(xs)))
    random.Random(0).shuffle(order)
    n_test = round(len(xs) * 0.2)
    test, train = order[:n_test], order[n_test:]
    trainer = pycrfsuite.Trainer(algorithm="arow", verbose=False)
    for i in train:
        trainer.append(xs[i], ys[i])
    model = str(workdir / "local.crfsuite")
    trainer.train(model)
    tagger = pycrfsuite.Tagger()
    tagger.open(model)
    correct = total = 0
    for i in test:
        for guess, truth in zip(tagger.tag(xs[i]), ys[i]):
            if truth != "O":
                total += 1
                correct += guess == truth
    t1 = time.perf_counter()
    px, _ = sentences(data / "ner_predict.csv", False)
    [label for s in px for label in tagger.tag(s)]
    tagger.close()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, f"accuracy={correct / max(total, 1):.4f} ({correct}/{total} non-O tokens correct)"


def main() -> int:
    ap = argparse.ArgumentParser(description="Times the book's NER fit+predict: server vs python-crfsuite.")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--address", default=os.environ.get("MLBRIDGE_ADDRESS"))
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    data = args.data or book_dir()
    work = Path(tempfile.mkdtemp(prefix="mlbridge-bench-"))
    try:
        (work / "data").symlink_to(data, target_is_directory=True)
        with contextlib.ExitStack() as stack:
            address = args.address or stack.enter_context(server(work))
            rows: Dict[str, List[Tuple[float, float]]] = {"book scripts (2 processes, server)": [], "CRFSuiteModel in-process (server)": [], "python-crfsuite in-process": []}
            notes: Dict[str, str] = {}
            for _ in range(args.repeat):
                fit, pred, fit_out, _pred_out = run_scripts(address, work)
                rows["book scripts (2 processes, server)"].append((fit, pred))
                notes["book scripts (2 processes, server)"] = fit_out.splitlines()[0]
                fit, pred, line = run_client(address, data)
                rows["CRFSuiteModel in-process (server)"].append((fit, pred))
                notes["CRFSuiteModel in-process (server)"] = line
                fit, pred, line = run_pycrfsuite(data, work)
                rows["python-crfsuite in-process"].append((fit, pred))
                notes["python-crfsuite in-process"] = line
        print(f"The book's NER example, median of {args.repeat} runs (seconds; {os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
        print(f"| {'variant':38} | {'fit':>7} | {'predict':>7} | {'total':>7} | holdout accuracy |")
        print(f"|{'-' * 40}|{'-' * 9}|{'-' * 9}|{'-' * 9}|------------------|")
        for name, times in rows.items():
            fit = statistics.median(t[0] for t in times)
            pred = statistics.median(t[1] for t in times)
            total = statistics.median(t[0] + t[1] for t in times)
            print(f"| {name:38} | {fit:7.3f} | {pred:7.3f} | {total:7.3f} | {notes[name]} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
