"""IrisClassificationXgboost: the book's Java class, in Python over mlbridge."""

from __future__ import annotations

from typing import Final

from mlbridge import Client, TrainProgress

__all__ = ["IrisClassificationXgboost"]


class IrisClassificationXgboost:
    """fit() and predict() of the book's iris classifier; paths relative to the working directory."""

    #: Model name on the server (the book's model file).
    MODEL_NAME = "xgb.model"
    TRAINING_FILE = "data/iris.csv"
    PREDICT_FILE = "data/predict.csv"
    #: The book's parameters: multi:softmax, 3 classes, depth 2, eta 1, 2 rounds, 20% test, 20% validation.
    PRESET: Final = "iris"

    @classmethod
    def fit(cls) -> None:
        """Trains on ``data/iris.csv`` with the book's parameters and prints each round's evaluation."""

        def show(p: TrainProgress) -> None:
            if p.eval_log:
                print(p.eval_log, flush=True)

        with Client() as client:
            report = client.xgboost.train(cls.MODEL_NAME, cls.TRAINING_FILE, preset=cls.PRESET, on_progress=show)
        print(f"\nSaved Booster model {report.model.name!r} ({report.model.size_bytes} bytes) on the server")

    @classmethod
    def predict(cls) -> str:
        """Classifies ``data/predict.csv`` and returns the first row's class name (e.g. ``setosa``)."""
        print("Loading model")
        with Client() as client:
            result = client.xgboost.predict(cls.MODEL_NAME, csv_path=cls.PREDICT_FILE)
        if not result.class_names:
            # A booster without class names: the book's flower_decoder on the class index.
            return _decode(float(result.values[0][0]))
        return result.class_names[0]

    @classmethod
    def main(cls) -> None:
        """The book's ``main``: fit, predict, print the prediction."""
        cls.fit()
        print(cls.predict())


def _decode(index: float) -> str:
    names = ["setosa", "versicolor", "virginica"]
    i = int(round(index))
    return names[i] if 0 <= i < len(names) else str(index)
