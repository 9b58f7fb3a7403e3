"""Plain result types returned by the client (instead of raw protobuf messages)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from mlbridge._proto.mlbridge.v1 import (
    crf_service_pb2 as crf_pb,
)
from mlbridge._proto.mlbridge.v1 import (
    text_service_pb2 as text_pb,
)
from mlbridge._proto.mlbridge.v1 import (
    types_pb2 as types_pb,
)
from mlbridge._proto.mlbridge.v1 import (
    xgboost_service_pb2 as xgb_pb,
)

__all__ = [
    "CrfFeature",
    "ModelInfo",
    "LabelMetrics",
    "CrfMetrics",
    "TrainProgress",
    "CrfTrainReport",
    "XgboostTrainReport",
    "TaggedSequence",
    "PredictResult",
    "WordCount",
]

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    #: A float32 numpy array, to type checkers.
    Float32Array = NDArray[np.float32]
else:  # numpy is optional at run time (the `numpy` extra): typing.get_type_hints still resolves the name
    Float32Array = Any

_KIND_NAMES = {
    types_pb.MODEL_KIND_UNSPECIFIED: "unspecified",
    types_pb.MODEL_KIND_CRF: "crf",
    types_pb.MODEL_KIND_XGBOOST: "xgboost",
}


@dataclass(frozen=True)
class CrfFeature:
    """One feature of a CRF template: the attribute ``prefix + <value of column>`` with a weight."""

    column: str
    weight: float = 1.0
    prefix: str = ""

    @classmethod
    def from_proto(cls, msg: types_pb.CrfFeature) -> CrfFeature:
        return cls(msg.column, msg.weight if msg.HasField("weight") else 1.0, msg.prefix)


@dataclass(frozen=True)
class ModelInfo:
    """A stored model, as the server's model store describes it."""

    name: str
    #: ``"crf"`` or ``"xgboost"``.
    kind: str
    #: When this version was stored (UTC), if the server said.
    created_at: Optional[_dt.datetime]
    #: Training parameters (algorithm, library parameters, preset, seed, split), as strings.
    parameters: Dict[str, str]
    #: Holdout metrics measured at training (empty for imports).
    metrics: Dict[str, float]
    #: Labels (CRF) or class names (XGBoost classifiers), in model order.
    labels: List[str]
    size_bytes: int
    sha256: str
    #: ``"crfsuite"``, ``"xgboost-ubj"`` or ``"xgboost-json"``.
    format: str
    feature_names: List[str]
    feature_template: List[CrfFeature]
    #: 1 when first stored under its name, one more at each replacement (on every server sharing the store).
    version: int = 1

    @classmethod
    def from_proto(cls, msg: types_pb.ModelInfo) -> ModelInfo:
        created: Optional[_dt.datetime] = None
        if msg.HasField("created_at"):
            created = _dt.datetime.fromtimestamp(msg.created_at.seconds + msg.created_at.nanos / 1e9, tz=_dt.timezone.utc)
        return cls(
            name=msg.name,
            kind=_KIND_NAMES.get(msg.kind, str(msg.kind)),
            created_at=created,
            parameters=dict(msg.parameters),
            metrics=dict(msg.metrics),
            labels=list(msg.labels),
            size_bytes=msg.size_bytes,
            sha256=msg.sha256,
            format=msg.format,
            feature_names=list(msg.feature_names),
            feature_template=[CrfFeature.from_proto(f) for f in msg.feature_template.features],
            version=msg.version or 1,
        )


@dataclass(frozen=True)
class LabelMetrics:
    """Holdout precision, recall and F1 of one label."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int

    @classmethod
    def from_proto(cls, msg: types_pb.LabelMetrics) -> LabelMetrics:
        return cls(msg.label, msg.precision, msg.recall, msg.f1, msg.support)


@dataclass(frozen=True)
class CrfMetrics:
    """Holdout metrics of a CRF model."""

    #: The book's accuracy: share of the non-``O`` holdout tokens tagged correctly.
    book_accuracy: float
    token_accuracy: float
    sequence_accuracy: float
    macro_f1: float
    labels: List[LabelMetrics]

    @classmethod
    def from_proto(cls, msg: crf_pb.CrfMetrics) -> CrfMetrics:
        return cls(
            msg.book_accuracy,
            msg.token_accuracy,
            msg.sequence_accuracy,
            msg.macro_f1,
            [LabelMetrics.from_proto(m) for m in msg.labels],
        )


@dataclass(frozen=True)
class TrainProgress:
    """A progress event of a running training."""

    #: ``receiving``, ``preparing``, ``training``, ``evaluating`` or ``saving``.
    stage: str
    #: Iteration (epoch, boosting round) just finished, from 1; 0 outside ``training``.
    iteration: int
    loss: float
    active_features: int
    elapsed_seconds: float
    #: Evaluation log line (XGBoost: ``[0]\ttrain-merror:...``), may be empty.
    eval_log: str
    metrics: Dict[str, float]
    bytes_received: int

    @classmethod
    def from_proto(cls, msg: types_pb.TrainProgress) -> TrainProgress:
        return cls(
            stage=msg.stage,
            iteration=msg.iteration,
            loss=msg.loss,
            active_features=msg.active_features,
            elapsed_seconds=msg.elapsed_seconds,
            eval_log=msg.eval_log,
            metrics=dict(msg.metrics),
            bytes_received=msg.bytes_received,
        )


@dataclass(frozen=True)
class CrfTrainReport:
    """The result of a CRF training."""

    model: ModelInfo
    #: Holdout metrics; None when trained with ``no_holdout``.
    metrics: Optional[CrfMetrics]
    train_sequences: int
    test_sequences: int
    train_tokens: int
    test_tokens: int
    train_seconds: float
    iterations: int
    #: The line the book prints after training, e.g. ``accuracy=0.8712 (...)``.
    accuracy_line: str

    @classmethod
    def from_proto(cls, msg: crf_pb.CrfTrainReport) -> CrfTrainReport:
        return cls(
            model=ModelInfo.from_proto(msg.model),
            metrics=CrfMetrics.from_proto(msg.metrics) if msg.HasField("metrics") else None,
            train_sequences=msg.train_sequences,
            test_sequences=msg.test_sequences,
            train_tokens=msg.train_tokens,
            test_tokens=msg.test_tokens,
            train_seconds=msg.train_seconds,
            iterations=msg.iterations,
            accuracy_line=msg.accuracy_line,
        )


@dataclass(frozen=True)
class XgboostTrainReport:
    """The result of an XGBoost training."""

    model: ModelInfo
    #: Final evaluation metrics by name, e.g. ``test-merror``.
    metrics: Dict[str, float]
    train_rows: int
    test_rows: int
    validation_rows: int
    train_seconds: float
    validation_accuracy: float
    rounds: int

    @classmethod
    def from_proto(cls, msg: xgb_pb.XgboostTrainReport) -> XgboostTrainReport:
        return cls(
            model=ModelInfo.from_proto(msg.model),
            metrics=dict(msg.metrics),
            train_rows=msg.train_rows,
            test_rows=msg.test_rows,
            validation_rows=msg.validation_rows,
            train_seconds=msg.train_seconds,
            validation_accuracy=msg.validation_accuracy,
            rounds=msg.rounds,
        )


@dataclass(frozen=True)
class TaggedSequence:
    """A tagged sequence: one label per item, and optionally probabilities."""

    labels: List[str]
    #: Probability of the label path; None unless asked for.
    probability: Optional[float] = None
    #: Per item, the probability of every model label; None unless asked for.
    marginals: Optional[List[Dict[str, float]]] = None

    @classmethod
    def from_packed(
        cls, packed: crf_pb.CrfPackedTags, lengths: Sequence[int], label_names: List[str], probability: bool, marginals: bool
    ) -> List[TaggedSequence]:
        """The sequences of a packed result (CrfPackedTags), split by ``lengths``."""
        paths = packed.label_indices
        margs = packed.marginals
        k = len(label_names)
        out: List[TaggedSequence] = []
        first = 0
        for i, n in enumerate(lengths):
            labels = [label_names[j] for j in paths[first : first + n]]
            m = [dict(zip(label_names, margs[(first + t) * k : (first + t + 1) * k])) for t in range(n)] if marginals else None
            out.append(cls(labels, packed.probabilities[i] if probability else None, m))
            first += n
        return out


@dataclass(frozen=True)
class PredictResult:
    """Predictions of an XGBoost model.

    ``values`` is a ``rows × cols`` float32 numpy array (``NDArray[np.float32]``)
    when numpy is installed, else a list of rows (lists of floats); it is typed as
    the array, the form of every install with numpy (``pip install mlbridge[numpy]``).
    ``cols`` is 1 for the objective's natural output and the number of classes for
    probabilities and margins.
    """

    values: Float32Array
    #: For classifiers: the predicted class name of each row.
    class_names: List[str] = field(default_factory=list)
    rows: int = 0
    cols: int = 0


@dataclass(frozen=True)
class WordCount:
    """Result of a streamed word count."""

    counts: Dict[str, int]
    total_words: int
    total_bytes: int

    @classmethod
    def from_proto(cls, msg: text_pb.CountWordsStreamResponse) -> WordCount:
        return cls(dict(msg.counts), msg.total_words, msg.total_bytes)
