"""In-process Python peers of the mlbridge benchmark. Usage: python peers.py '<json>'
The JSON names a command (cmd) and its inputs; the last stdout line is a JSON result.
Times are wall-clock seconds of the measured part only (data loading excluded unless noted)."""
import json, re, sys, time
from collections import Counter


def xgb_batch(a):
    import numpy as np, xgboost as xgb
    X = np.fromfile(a["features"], dtype=np.float32).reshape(-1, a["cols"])
    bst = xgb.Booster(model_file=a["model"])
    bst.inplace_predict(X[:1000])  # warm-up
    times = []
    for _ in range(a["repeats"]):
        t0 = time.perf_counter(); out = bst.inplace_predict(X); times.append(time.perf_counter() - t0)
    return {"rows": int(X.shape[0]), "seconds": times, "xgboost": xgb.__version__, "checksum": float(np.asarray(out, dtype=np.float64).sum())}


def _xseq(items):
    return [{name: w for name, w in it} for it in items]


def crf_train(a):
    import pycrfsuite
    d = json.load(open(a["split"]))
    times, model_path = [], a["model_out"]
    for _ in range(a["repeats"]):
        t0 = time.perf_counter()
        tr = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
        for s in d["train"]:
            tr.append(pycrfsuite.ItemSequence(_xseq(s["items"])), s["labels"])
        tr.set_params(a["params"])
        tr.train(model_path)
        times.append(time.perf_counter() - t0)
    try:
        iters = len(tr.logparser.iterations)
    except Exception:
        iters = None
    tg = pycrfsuite.Tagger(); tg.open(model_path)
    ok = tot = 0
    for s in d["test"]:
        pred = tg.tag(_xseq(s["items"]))
        ok += sum(p == g for p, g in zip(pred, s["labels"])); tot += len(pred)
    return {"seconds": times, "iterations": iters, "tokenAccuracy": ok / tot, "testTokens": tot, "params": tr.get_params() if hasattr(tr, "get_params") else a["params"]}


def crf_tag(a):
    import pycrfsuite
    d = json.load(open(a["sequences"]))
    xs = [_xseq(items) for items in d]
    tokens = sum(len(x) for x in xs) * a["passes"]
    tg = pycrfsuite.Tagger(); tg.open(a["model"])
    for x in xs[:200]: tg.tag(x)  # warm-up
    times = []
    for _ in range(a["repeats"]):
        t0 = time.perf_counter()
        for _p in range(a["passes"]):
            for x in xs: tg.tag(x)
        times.append(time.perf_counter() - t0)
    return {"tokens": tokens, "seconds": times}


def wordcount(a):
    text = open(a["file"], encoding="utf-8").read()
    times = []
    for _ in range(a["repeats"]):
        t0 = time.perf_counter(); c = Counter(re.findall(r"\w+", text)); times.append(time.perf_counter() - t0)
    return {"bytes": len(text.encode("utf-8")), "seconds": times, "distinct": len(c), "total": sum(c.values())}


if __name__ == "__main__":
    arg = json.loads(sys.argv[1])
    print(json.dumps(globals()[arg["cmd"]](arg)))
