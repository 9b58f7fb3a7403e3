"""Runs inside a test venv holding one xgboost version (see xgboost_versions.py); no mlbridge import.

    python xgboost_worker.py save OUT_DIR ROWS.npy
        trains the models of MODELS on ROWS (iris features) and saves each as OUT_DIR/<name>.json
        and OUT_DIR/<name>.ubj, with what this xgboost predicts for ROWS:
        OUT_DIR/<name>.margins.npy and OUT_DIR/<name>.outputs.npy (float32).
    python xgboost_worker.py load ROWS.npy MODEL_FILE...
        loads each model file and saves its margins and outputs for ROWS beside it
        (<file>.margins.npy, <file>.outputs.npy).
Prints the xgboost version on its last line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import xgboost as xgb

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def models(x: np.ndarray) -> Dict[str, Tuple[Dict[str, Any], np.ndarray]]:
    """name -> (parameters, labels). Labels are made from the features, deterministic; the classes
    are unbalanced so that a fitted intercept differs from the default one."""
    species = np.digitize(x[:, 2], [2.5, 5.0]).astype(np.float32)  # 50 / 84 / 16 rows on iris
    common = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    return {
        "binary": ({**common, "objective": "binary:logistic"}, (x[:, 0] > 6.0).astype(np.float32)),
        "softprob": ({**common, "objective": "multi:softprob", "num_class": 3}, species),
        "regression": ({**common, "objective": "reg:squarederror"}, (x[:, 3] * 10 + 5).astype(np.float32)),
        "regression-base-score": ({**common, "objective": "reg:squarederror", "base_score": 12.5}, (x[:, 3] * 10 + 5).astype(np.float32)),
    }


def predictions(booster: Any, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    dm = xgb.DMatrix(x, feature_names=booster.feature_names)
    return (
        np.asarray(booster.predict(dm, output_margin=True), dtype=np.float32),
        np.asarray(booster.predict(dm), dtype=np.float32),
    )


def main() -> None:
    mode = sys.argv[1]
    if mode == "save":
        out, x = Path(sys.argv[2]), np.load(sys.argv[3])
        out.mkdir(parents=True, exist_ok=True)
        for name, (params, y) in models(x).items():
            booster = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=FEATURES), num_boost_round=4)
            booster.save_model(str(out / f"{name}.json"))
            booster.save_model(str(out / f"{name}.ubj"))
            margins, outputs = predictions(booster, x)
            np.save(out / f"{name}.margins.npy", margins)
            np.save(out / f"{name}.outputs.npy", outputs)
    elif mode == "load":
        x = np.load(sys.argv[2])
        for file in sys.argv[3:]:
            booster = xgb.Booster(model_file=file)
            margins, outputs = predictions(booster, x)
            np.save(f"{file}.margins.npy", margins)
            np.save(f"{file}.outputs.npy", outputs)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(xgb.__version__)


if __name__ == "__main__":
    main()
