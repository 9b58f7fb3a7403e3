"""XgboostService: train XGBoost boosters and predict with them."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, List, Mapping, Optional

from mlbridge._choices import PredictOutput, XgboostPreset
from mlbridge._data import PredictResult, XgboostTrainReport
from mlbridge._files import PathLike, closing_chunks, open_local, read_local, then
from mlbridge._matrix import numpy_module, to_floats, to_matrices
from mlbridge._params import params
from mlbridge._proto.mlbridge.v1 import xgboost_service_pb2 as xgb_pb
from mlbridge._rpc import Rpc
from mlbridge._training import ProgressCallback, run_training

__all__ = ["XgboostClient", "OUTPUTS"]

#: Prediction outputs accepted by :meth:`XgboostClient.predict`.
OUTPUTS = {
    "default": xgb_pb.PREDICT_OUTPUT_UNSPECIFIED,
    "probabilities": xgb_pb.PREDICT_OUTPUT_PROBABILITIES,
    "margins": xgb_pb.PREDICT_OUTPUT_MARGINS,
}


class XgboostClient:
    """XGBoost boosters: ``client.xgboost``."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc

    def train(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        features: Any = None,
        labels: Any = None,
        weights: Any = None,
        preset: Optional[XgboostPreset] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        num_rounds: Optional[int] = None,
        test_fraction: Optional[float] = None,
        validation_fraction: Optional[float] = None,
        seed: int = 0,
        feature_names: Optional[Iterable[str]] = None,
        class_names: Optional[Iterable[str]] = None,
        label_column: Optional[str] = None,
        fail_if_exists: bool = False,
        on_progress: Optional[ProgressCallback] = None,
    ) -> XgboostTrainReport:
        """Trains a booster and stores it as ``model_name`` (XgboostService.Train).

        Give the data either as ``csv_path`` (a CSV with a header row, such as the
        book's iris.csv; the label is ``label_column`` or the last column, text
        labels become class names), or as ``features`` (a 2-D array: numpy or a
        list of rows) with ``labels`` (and optional ``weights``), one per row.

        ``preset="iris"`` is the book's setup (multi:softmax, 3 classes, depth 2,
        eta 1, 2 rounds, 20% test, 20% validation); ``parameters`` are XGBoost's
        and override the preset's. ``on_progress`` gets one :class:`TrainProgress`
        per boosting round, with its evaluation log line (``eval_log``).
        """
        requests = train_requests(
            model_name,
            csv_path,
            features=features,
            labels=labels,
            weights=weights,
            preset=preset,
            parameters=parameters,
            num_rounds=num_rounds,
            test_fraction=test_fraction,
            validation_fraction=validation_fraction,
            seed=seed,
            feature_names=feature_names,
            class_names=class_names,
            label_column=label_column,
            fail_if_exists=fail_if_exists,
        )
        report = run_training(self._rpc, self._rpc.xgboost.Train, requests, on_progress)
        return XgboostTrainReport.from_proto(report)

    def predict(
        self,
        model_name: str,
        features: Any = None,
        *,
        csv_path: Optional[PathLike] = None,
        output: PredictOutput = "default",
        class_names: bool = True,
    ) -> PredictResult:
        """Predicts with a stored booster (XgboostService.Predict).

        Give ``features`` (a 2-D float array — numpy, sent as float32 — or a list
        of rows) or ``csv_path`` (a CSV with a header row holding the model's
        feature columns; others, such as ``species``, are ignored).
        ``output`` is ``"default"`` (the objective's natural output: class indices
        for multi:softmax), ``"probabilities"`` or ``"margins"``.
        ``class_names=False`` skips the class name of each row (for large batches:
        the names cost more than the values; the model's ``labels`` name the
        class indices).

        A numpy array travels as raw float32 bytes (``DenseMatrix.raw_values``);
        with numpy installed the predictions come back the same way
        (``raw_output``), without per-value protobuf work on either side.

        Returns a :class:`PredictResult`: ``values`` (rows × cols; a float32 numpy
        array when numpy is installed) and, for classifiers, ``class_names`` per row.
        """
        req = predict_request(model_name, features, csv_path=csv_path, output=output, class_names=class_names)
        return predict_result(self._rpc.unary(self._rpc.xgboost.Predict, req))


def train_requests(
    model_name: str,
    csv_path: Optional[PathLike] = None,
    *,
    features: Any = None,
    labels: Any = None,
    weights: Any = None,
    preset: Optional[XgboostPreset] = None,
    parameters: Optional[Mapping[str, Any]] = None,
    num_rounds: Optional[int] = None,
    test_fraction: Optional[float] = None,
    validation_fraction: Optional[float] = None,
    seed: int = 0,
    feature_names: Optional[Iterable[str]] = None,
    class_names: Optional[Iterable[str]] = None,
    label_column: Optional[str] = None,
    fail_if_exists: bool = False,
) -> Iterator[xgb_pb.XgboostServiceTrainRequest]:
    """The messages of XgboostService.Train (the header, then the CSV or the rows), for the
    synchronous and the asyncio client alike. Checks the arguments before any message is made."""
    if (csv_path is None) == (features is None):
        raise ValueError("give exactly one of csv_path or features (with labels)")
    if features is not None and labels is None:
        raise ValueError("labels are required with features")
    header = xgb_pb.XgboostTrainHeader(
        model_name=model_name,
        preset=preset or "",
        parameters=params(parameters),
        seed=seed,
        feature_names=list(feature_names or []),
        class_names=list(class_names or []),
        label_column=label_column or "",
        fail_if_exists=fail_if_exists,
    )
    if num_rounds is not None:
        header.num_rounds = int(num_rounds)
    if test_fraction is not None:
        header.test_fraction = float(test_fraction)
    if validation_fraction is not None:
        header.validation_fraction = float(validation_fraction)
    first = xgb_pb.XgboostServiceTrainRequest(header=header)
    if csv_path is not None:
        f = open_local(csv_path)  # FileNotFoundError now, before any call
        return then(first, (xgb_pb.XgboostServiceTrainRequest(csv_chunk=c) for c in closing_chunks(f)))
    return then(first, _rows_messages(features, labels, weights))


def predict_request(
    model_name: str, features: Any = None, *, csv_path: Optional[PathLike] = None, output: PredictOutput = "default", class_names: bool = True
) -> xgb_pb.XgboostServicePredictRequest:
    """The XgboostService.Predict request (see XgboostClient.predict)."""
    if (csv_path is None) == (features is None):
        raise ValueError("give exactly one of features or csv_path")
    try:
        out = OUTPUTS[output]
    except KeyError:
        raise ValueError(f"output: unknown {output!r} (known: {', '.join(OUTPUTS)})") from None
    req = xgb_pb.XgboostServicePredictRequest(model_name=model_name, output=out, raw_output=numpy_module() is not None, omit_class_names=not class_names)
    if csv_path is not None:
        req.csv = read_local(csv_path)
    else:
        req.matrix.CopyFrom(to_matrices(features, max_bytes=0)[0])
    return req


def predict_result(resp: xgb_pb.XgboostServicePredictResponse) -> PredictResult:
    """A Predict response as a PredictResult (a float32 numpy array when numpy is installed)."""
    np = numpy_module()
    rows, cols = resp.rows, resp.cols
    values: Any
    if np is not None:
        # astype: one copy into a writable, native-order array that owns its memory.
        values = np.frombuffer(resp.raw_values, dtype="<f4").astype(np.float32).reshape(rows, cols)
    else:  # pragma: no cover - exercised without numpy
        flat = list(resp.values)
        values = [flat[i * cols : (i + 1) * cols] for i in range(rows)]
    return PredictResult(values=values, class_names=list(resp.class_names), rows=rows, cols=cols)


def _rows_messages(features: Any, labels: Any, weights: Any) -> Iterator[xgb_pb.XgboostServiceTrainRequest]:
    matrices = to_matrices(features)
    label_list = to_floats(labels, "labels")
    weight_list: Optional[List[float]] = to_floats(weights, "weights") if weights is not None else None
    total = sum(m.rows for m in matrices)
    if len(label_list) != total:
        raise ValueError(f"labels: expected {total} (one per row), got {len(label_list)}")
    if weight_list is not None and len(weight_list) != total:
        raise ValueError(f"weights: expected {total} (one per row), got {len(weight_list)}")
    at = 0
    for m in matrices:
        rows = xgb_pb.XgboostTrainRows(features=m, labels=label_list[at : at + m.rows])
        if weight_list is not None:
            rows.weights.extend(weight_list[at : at + m.rows])
        at += m.rows
        yield xgb_pb.XgboostServiceTrainRequest(rows=rows)
