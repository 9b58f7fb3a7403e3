"""Scenario 3's Python-client side: N rows (a float32 file) through mlbridge's
Python client (clients/python), in chunks, several in flight on one channel.
Usage: client_batch.py ADDRESS FEATURES.f32 COLS CHUNK IN_FLIGHT; prints {"seconds": s, "rows": n}."""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from mlbridge import Client

address, features, cols, chunk, flight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
X = np.fromfile(features, dtype=np.float32).reshape(-1, cols)
with Client(address) as client:
    parts = [X[i : i + chunk] for i in range(0, len(X), chunk)]
    client.xgboost.predict("iris", X[:1000], class_names=False)  # warm-up (connects), as the xgboost peer does
    t0 = time.perf_counter()
    with ThreadPoolExecutor(flight) as pool:
        out = list(pool.map(lambda p: client.xgboost.predict("iris", p, class_names=False), parts))
    seconds = time.perf_counter() - t0
rows = sum(len(r.values) for r in out)
print(json.dumps({"seconds": seconds, "rows": rows}))
