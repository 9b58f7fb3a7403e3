"""mlbridge: Python client of the mlbridge gRPC model server.

Train and serve CRFsuite sequence taggers and XGBoost boosters on a server::

    from mlbridge import Client

    with Client() as client:                      # MLBRIDGE_ADDRESS or localhost:50051
        client.crf.train("ner", "data/ner.csv", feature_preset="book")
        tags = client.crf.predict("ner", "data/ner_predict.csv")

Also: :mod:`mlbridge.aio` (the same client over asyncio) and :mod:`mlbridge.sklearn`
(scikit-learn estimators trained on the server; ``pip install mlbridge[sklearn]``).
Importing ``mlbridge`` imports neither scikit-learn nor pandas.
"""

try:
    from mlbridge._proto.mlbridge.v1 import types_pb2 as _types_pb2  # noqa: F401
except ModuleNotFoundError as _e:  # pragma: no cover - a source tree without generated stubs
    if _e.name is None or not _e.name.startswith("mlbridge._proto"):
        raise
    raise ImportError(
        "mlbridge: the generated gRPC stubs (mlbridge._proto) are missing; run clients/python/build.sh or clients/python/scripts/gen_stubs.py"
    ) from None

from mlbridge._choices import CrfAlgorithm, CrfFeaturePreset, ModelFormat, ModelKind, PredictOutput, XgboostPreset
from mlbridge._client import DEFAULT_ADDRESS, Client
from mlbridge._crf import CrfClient, TagStream
from mlbridge._data import (
    CrfFeature,
    CrfMetrics,
    CrfTrainReport,
    LabelMetrics,
    ModelInfo,
    PredictResult,
    TaggedSequence,
    TrainProgress,
    WordCount,
    XgboostTrainReport,
)
from mlbridge._models import ModelsClient
from mlbridge._text import TextClient
from mlbridge._xgb import XgboostClient
from mlbridge.errors import (
    AuthenticationError,
    CancelledError,
    DeadlineExceededError,
    InvalidInputError,
    MlBridgeError,
    ModelExistsError,
    ModelNotFoundError,
    ResourceExhaustedError,
    ServerUnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DEFAULT_ADDRESS",
    "CrfClient",
    "XgboostClient",
    "TextClient",
    "ModelsClient",
    "TagStream",
    "CrfFeature",
    "CrfMetrics",
    "CrfTrainReport",
    "LabelMetrics",
    "ModelInfo",
    "PredictResult",
    "TaggedSequence",
    "TrainProgress",
    "WordCount",
    "XgboostTrainReport",
    "MlBridgeError",
    "InvalidInputError",
    "ModelNotFoundError",
    "ModelExistsError",
    "ServerUnavailableError",
    "DeadlineExceededError",
    "AuthenticationError",
    "ResourceExhaustedError",
    "CancelledError",
    "PredictOutput",
    "CrfAlgorithm",
    "CrfFeaturePreset",
    "XgboostPreset",
    "ModelKind",
    "ModelFormat",
]
