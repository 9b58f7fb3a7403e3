"""scikit-learn estimators whose models are trained and served by an mlbridge server.

``XGBClassifier`` and ``XGBRegressor`` take xgboost's scikit-learn arguments and
``CRF`` sklearn-crfsuite's; all three follow scikit-learn's estimator contract
(``get_params``/``set_params``, ``clone``, ``Pipeline``, ``GridSearchCV``)::

    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from mlbridge.sklearn import XGBClassifier

    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), XGBClassifier(n_estimators=20)),
                          {"xgbclassifier__max_depth": [2, 4]}, cv=3).fit(X, y)

Needs scikit-learn (``pip install 'mlbridge[sklearn]'``); importing :mod:`mlbridge`
alone never imports it.

**Connection.** Every estimator has a ``client`` parameter: ``None`` (the default)
connects to ``$MLBRIDGE_ADDRESS`` (else ``localhost:50051``, with ``$MLBRIDGE_TOKEN``
as the token), an ``"host:port"`` string to that address; either way one channel per
address is shared by all estimators of the process and opened at the first call.
Or give an :class:`mlbridge.Client` (for TLS or a deadline): ``clone`` keeps that same
client (a client's deep copy is itself), but such an estimator cannot be pickled, so
``GridSearchCV(n_jobs=...)`` over processes needs ``None`` or an address.

**Models on the server.** Each ``fit`` stores a new model named
``<model_prefix>-<kind>-<random hex>`` (``model_name_``; e.g.
``sklearn-xgbclassifier-3f9c...``) and never replaces or deletes another, so a fitted
estimator (and its pickled copies) keep predicting with their own model. Nothing is
deleted implicitly (garbage collection does no network I/O): call
:meth:`delete_model`, use the estimator as a context manager (``with
XGBClassifier() as clf:`` deletes the model it fitted on exit), or after a grid
search, where each cross-validation fit stores a model, ``delete_models("sklearn")``
deletes every model whose name starts with the prefix. ``from_model(name)`` wraps a
model stored otherwise (e.g. trained from a CSV); such a model is never deleted on
exit, only by an explicit :meth:`delete_model`.

**Hold-out.** The server's training API holds out 20 % of the rows by default;
these estimators train on every row (``test_fraction=0.0``), as xgboost and
sklearn-crfsuite do. ``test_fraction=0.2`` holds that share out (seeded by
``random_state``) and the server reports its metrics in ``train_report_``. The
training API takes no separate evaluation data: ``eval_set`` (xgboost) and
``X_dev``/``y_dev`` (sklearn-crfsuite) raise ``ValueError``.

**Errors.** Bad arguments and data raise scikit-learn's conventional
``ValueError``/``TypeError`` naming the argument (``NotFittedError`` before
``fit``); what the server refuses raises :class:`mlbridge.InvalidInputError` (a
``ValueError``) naming the field, never a raw gRPC error.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as _e:  # scikit-learn missing, or older than 1.6 (no validate_data, no __sklearn_tags__)
    raise ImportError(
        "mlbridge.sklearn needs scikit-learn >= 1.6, an optional extra of mlbridge: pip install 'mlbridge[sklearn]' "
        f"(which also installs pandas, for DataFrames); the import failed with: {_e}"
    ) from _e

import json
import numbers
import os
import re
import threading
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import numpy as np

from mlbridge._choices import CrfAlgorithm, ModelFormat
from mlbridge._client import DEFAULT_ADDRESS, Client
from mlbridge._crf_wire import ItemLike
from mlbridge._data import CrfTrainReport, ModelInfo, TrainProgress, XgboostTrainReport
from mlbridge._files import PathLike
from mlbridge.errors import InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["XGBClassifier", "XGBRegressor", "CRF", "delete_models", "ClientLike"]

#: How an estimator reaches the server: None ($MLBRIDGE_ADDRESS), an address "host:port", or a Client.
ClientLike = Union[Client, str, None]

_SHARED: Dict[Tuple[int, str], Client] = {}
_SHARED_LOCK = threading.Lock()
#: A model name prefix: what the server accepts in a name (1 to 128 letters, digits, '.', '_', '-').
_PREFIX = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")

E = TypeVar("E", bound="_ServerModel")


def _connect(client: ClientLike) -> Client:
    """The client of a ``client`` parameter: the Client given, else the process's shared client
    of the address (the string, else $MLBRIDGE_ADDRESS, else localhost:50051), opened once."""
    if isinstance(client, Client):
        return client
    if client is not None and not isinstance(client, str):
        raise TypeError(f"client: expected an mlbridge.Client, an address 'host:port' or None, got {type(client).__name__}")
    address = client or os.environ.get("MLBRIDGE_ADDRESS") or DEFAULT_ADDRESS
    key = (os.getpid(), address)  # a forked worker opens its own channel
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = Client(address)
        return shared


def delete_models(prefix: str = "sklearn", client: ClientLike = None) -> List[str]:
    """Deletes every model on the server whose name starts with ``<prefix>-`` (the estimators'
    ``model_prefix``): the models a grid search's fits left. Returns the deleted names."""
    c = _connect(client)
    deleted = []
    for info in c.models.list():
        if info.name.startswith(prefix + "-"):
            try:
                c.models.delete(info.name)
            except ModelNotFoundError:  # deleted meanwhile
                continue
            deleted.append(info.name)
    return deleted


class _ServerModel(BaseEstimator):
    """What every estimator here shares: the connection, the model's name and its deletion."""

    #: The model kind on the server, and the name's middle part.
    _kind: str = ""
    client: ClientLike
    model_prefix: str
    #: Fitted: the model's name on the server, and whether this estimator stored it (fit) or wraps it (from_model).
    model_name_: str
    owns_model_: bool

    def _client(self) -> Client:
        return _connect(self.client)

    def _new_model_name(self) -> str:
        prefix = self.model_prefix
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ValueError(f"model_prefix: expected 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.'), got {prefix!r}")
        return f"{prefix}-{type(self).__name__.lower()}-{uuid.uuid4().hex[:20]}"

    @classmethod
    def _server_info(cls, name: str, client: ClientLike) -> ModelInfo:
        info = _connect(client).models.get(name)
        if info.kind != cls._kind:
            raise InvalidInputError(f"model {name!r} is a {info.kind} model, not {cls._kind} ({cls.__name__} needs a {cls._kind} model)")
        return info

    def model_info(self) -> ModelInfo:
        """The fitted model's description on the server (labels, parameters, metrics, size)."""
        check_is_fitted(self)
        return self._client().models.get(self.model_name_)

    def export_model(self, path: PathLike, format: Optional[ModelFormat] = None) -> ModelInfo:
        """Saves the fitted model's file: a CRFsuite file (``pycrfsuite.Tagger().open``), an XGBoost
        UBJ or JSON model (``xgboost.Booster(model_file=...)``); see :meth:`mlbridge.ModelsClient.export`."""
        check_is_fitted(self)
        return self._client().models.export(self.model_name_, path, format)

    def delete_model(self) -> None:
        """Deletes the fitted model from the server (one already gone is not an error) and makes the
        estimator unfitted again. Nothing happens before ``fit``."""
        name = getattr(self, "model_name_", None)
        if name is None:
            return
        try:
            self._client().models.delete(name)
        except ModelNotFoundError:
            pass
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    def __enter__(self: E) -> E:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        """Deletes the model this estimator fitted (not one wrapped by ``from_model``)."""
        if getattr(self, "owns_model_", False):
            self.delete_model()


# --- XGBoost ---------------------------------------------------------------------------------

#: Constructor arguments that are XGBoost parameters under the same name (the server takes
#: xgboost's scikit-learn aliases learning_rate, reg_alpha, reg_lambda as they are).
_XGB_PARAMS = (
    "max_depth",
    "max_leaves",
    "max_bin",
    "grow_policy",
    "learning_rate",
    "verbosity",
    "booster",
    "tree_method",
    "gamma",
    "min_child_weight",
    "max_delta_step",
    "subsample",
    "sampling_method",
    "colsample_bytree",
    "colsample_bylevel",
    "colsample_bynode",
    "reg_alpha",
    "reg_lambda",
    "scale_pos_weight",
    "base_score",
    "num_parallel_tree",
    "monotone_constraints",
    "interaction_constraints",
    "eval_metric",
)


def _seed(random_state: Any) -> int:
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and int(random_state) >= 0:
        return int(random_state)
    raise ValueError(f"random_state: expected None, an integer >= 0 or a numpy RandomState, got {random_state!r}")


def _xgb_value(name: str, value: Any) -> Any:
    """A parameter value as XGBoost takes it in a string (constraints in its text forms)."""
    if name == "monotone_constraints" and isinstance(value, (list, tuple)):
        return "(" + ",".join(str(int(v)) for v in value) + ")"
    if name == "interaction_constraints" and isinstance(value, (list, tuple)):
        return json.dumps([[int(i) for i in group] for group in value])
    if name == "eval_metric" and not isinstance(value, str):
        raise ValueError(f"eval_metric: the server takes one metric name, got {value!r}")
    return value


class _XGBModel(_ServerModel):
    """The XGBoost estimators' constructor and data handling (xgboost's argument names)."""

    _kind = "xgboost"

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: Optional[int] = None,
        max_leaves: Optional[int] = None,
        max_bin: Optional[int] = None,
        grow_policy: Optional[str] = None,
        learning_rate: Optional[float] = None,
        verbosity: Optional[int] = None,
        objective: Optional[str] = None,
        booster: Optional[str] = None,
        tree_method: Optional[str] = None,
        n_jobs: Optional[int] = None,
        gamma: Optional[float] = None,
        min_child_weight: Optional[float] = None,
        max_delta_step: Optional[float] = None,
        subsample: Optional[float] = None,
        sampling_method: Optional[str] = None,
        colsample_bytree: Optional[float] = None,
        colsample_bylevel: Optional[float] = None,
        colsample_bynode: Optional[float] = None,
        reg_alpha: Optional[float] = None,
        reg_lambda: Optional[float] = None,
        scale_pos_weight: Optional[float] = None,
        base_score: Optional[float] = None,
        random_state: Any = None,
        missing: float = np.nan,
        num_parallel_tree: Optional[int] = None,
        monotone_constraints: Any = None,
        interaction_constraints: Any = None,
        eval_metric: Optional[str] = None,
        *,
        client: ClientLike = None,
        model_prefix: str = "sklearn",
        test_fraction: float = 0.0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.max_leaves = max_leaves
        self.max_bin = max_bin
        self.grow_policy = grow_policy
        self.learning_rate = learning_rate
        self.verbosity = verbosity
        self.objective = objective
        self.booster = booster
        self.tree_method = tree_method
        self.n_jobs = n_jobs
        self.gamma = gamma
        self.min_child_weight = min_child_weight
        self.max_delta_step = max_delta_step
        self.subsample = subsample
        self.sampling_method = sampling_method
        self.colsample_bytree = colsample_bytree
        self.colsample_bylevel = colsample_bylevel
        self.colsample_bynode = colsample_bynode
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.base_score = base_score
        self.random_state = random_state
        self.missing = missing
        self.num_parallel_tree = num_parallel_tree
        self.monotone_constraints = monotone_constraints
        self.interaction_constraints = interaction_constraints
        self.eval_metric = eval_metric
        self.client = client
        self.model_prefix = model_prefix
        self.test_fraction = test_fraction

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is XGBoost's missing value
        return tags

    def _xgb_parameters(self) -> Dict[str, Any]:
        params = {name: _xgb_value(name, getattr(self, name)) for name in _XGB_PARAMS if getattr(self, name) is not None}
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        if self.random_state is not None:
            params["seed"] = _seed(self.random_state)
        return params

    def _check_X(self, X: Any, reset: bool) -> NDArray[np.float32]:
        """X as a float32 array (NaN for ``missing``); at predict, its columns checked against fit's."""
        if not reset:
            check_is_fitted(self)
            self._check_columns(X)
        arr: NDArray[np.float32] = validate_data(self, X, reset=reset, dtype=np.float32, ensure_all_finite="allow-nan")
        return self._with_missing(arr)

    def _check_columns(self, X: Any) -> None:
        """A DataFrame's columns must be those of fit, in the same order (as xgboost's feature_names check)."""
        fitted = getattr(self, "feature_names_in_", None)
        columns = getattr(X, "columns", None)
        if fitted is None or columns is None:
            return
        got = [str(c) for c in columns]
        want = [str(c) for c in fitted]
        if got == want:
            return
        missing = [c for c in want if c not in got]
        unknown = [c for c in got if c not in want]
        detail = []
        if missing:
            detail.append(f"missing {missing}")
        if unknown:
            detail.append(f"not seen at fit {unknown}")
        if not detail:
            detail.append("same names in another order")
        raise ValueError(
            f"feature_names mismatch: X has columns {got}, the model was fitted on {want} ({'; '.join(detail)}); select them as X[est.feature_names_in_]"
        )

    def _with_missing(self, X: NDArray[np.float32]) -> NDArray[np.float32]:
        missing = self.missing
        if missing is None or (isinstance(missing, float) and np.isnan(missing)):
            return X
        out = X.copy()
        out[out == np.float32(missing)] = np.nan
        return out

    def _train(self, X: NDArray[np.float32], labels: Any, sample_weight: Any, parameters: Dict[str, Any], class_names: Optional[List[str]]) -> None:
        n = self.n_estimators
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_estimators: expected an integer >= 1, got {n!r}")
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)
        name = self._new_model_name()
        names = getattr(self, "feature_names_in_", None)
        report = self._client().xgboost.train(
            name,
            features=X,
            labels=labels,
            weights=weights,
            parameters=parameters,
            num_rounds=int(n),
            test_fraction=float(self.test_fraction),
            validation_fraction=0.0,
            seed=_seed(self.random_state),
            feature_names=[str(c) for c in names] if names is not None else None,
            class_names=class_names,
        )
        self.model_name_ = name
        self.owns_model_ = True
        self.train_report_: XgboostTrainReport = report

    @staticmethod
    def _no_eval_set(eval_set: Any) -> None:
        if eval_set is not None:
            raise ValueError(
                "eval_set: the server's training API takes no separate evaluation data; test_fraction=0.2 (say) has the "
                "server hold out that share of the rows and report its metrics in train_report_.metrics"
            )

    def _predict_values(self, X: Any, output: Any) -> NDArray[np.float32]:
        arr = self._check_X(X, reset=False)
        res = self._client().xgboost.predict(self.model_name_, arr, output=output, class_names=False)
        return np.asarray(res.values, dtype=np.float32)


class XGBClassifier(ClassifierMixin, _XGBModel):
    """xgboost's ``XGBClassifier`` over an mlbridge server (the module's docstring says how it
    connects, names, keeps and deletes its models).

    The arguments are xgboost's (``None``: XGBoost's default), sent as the booster's
    parameters; ``n_jobs`` is XGBoost's ``nthread``, ``random_state`` its ``seed``. As
    xgboost does, ``fit`` infers the objective from ``y``: ``binary:logistic`` for two
    classes, else ``multi:softprob`` (``multi:softmax`` is kept) with ``num_class``. Labels
    may be any values ``numpy.unique`` sorts (strings, integers): they are sent as their
    indices 0..k-1 (and their ``str`` as the model's class names); ``classes_`` holds
    them and ``predict`` returns them.

    mlbridge's own arguments (keyword-only): ``client``, ``model_prefix`` and
    ``test_fraction`` (0: train on every row). Not supported (the server trains
    without them): ``eval_set``, ``early_stopping_rounds``, callbacks, categorical
    features, ``base_margin``, ``xgb_model`` (continued training).

    Fitted attributes: ``classes_``, ``n_classes_``, ``n_features_in_``,
    ``feature_names_in_`` (a DataFrame's string columns: ``predict`` raises
    ``ValueError`` naming the columns when another DataFrame's differ, reordered or
    renamed), ``model_name_`` and ``train_report_`` (:class:`mlbridge.XgboostTrainReport`).
    """

    def fit(self, X: Any, y: Any, *, sample_weight: Any = None, eval_set: Any = None) -> XGBClassifier:
        """Trains on the server. ``X``: 2-D numbers (NaN missing); ``y``: one label per row."""
        self._no_eval_set(eval_set)
        X, y = validate_data(self, X, y, dtype=np.float32, ensure_all_finite="allow-nan")
        X = self._with_missing(X)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y: 1 class ({classes[0]!r}); a classifier needs at least 2 classes")
        params = self._xgb_parameters()
        objective = self.objective
        if len(classes) > 2:
            params["objective"] = objective if objective == "multi:softmax" else "multi:softprob"
            params["num_class"] = len(classes)
        else:
            params["objective"] = objective or "binary:logistic"
            if str(params["objective"]).startswith("multi:"):
                params["num_class"] = 2
        self._train(X, encoded.astype(np.float32), sample_weight, params, [str(c) for c in classes])
        self.classes_ = classes
        self.n_classes_ = len(classes)
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float32]:
        """Class probabilities: rows × ``n_classes_``, columns in ``classes_`` order."""
        p = self._predict_values(X, "probabilities")
        if p.shape[1] == 1:  # binary:logistic: P(classes_[1])
            p = np.hstack([1.0 - p, p]).astype(np.float32)
        return p

    def predict(self, X: Any) -> NDArray[Any]:
        """The most probable class of each row, as in ``classes_``."""
        best = np.argmax(self.predict_proba(X), axis=1)  # first: raises NotFittedError before fit
        classes: NDArray[Any] = self.classes_[best]
        return classes

    @classmethod
    def from_model(cls, name: str, *, client: ClientLike = None) -> XGBClassifier:
        """A fitted estimator over a classifier already stored as ``name`` (trained from a CSV,
        imported...): ``classes_`` are its class names, ``feature_names_in_`` its feature names.
        A model of another kind raises InvalidInputError, a missing one ModelNotFoundError."""
        info = cls._server_info(name, client)
        if not info.labels:
            raise InvalidInputError(f"model {name!r} has no class names: it was not trained as a classifier with named classes")
        est = cls(client=client)
        est.model_name_ = name
        est.owns_model_ = False
        est.classes_ = np.asarray(info.labels, dtype=object)
        est.n_classes_ = len(info.labels)
        if info.feature_names:
            est.feature_names_in_ = np.asarray(info.feature_names, dtype=object)
            est.n_features_in_ = len(info.feature_names)
        return est


class XGBRegressor(RegressorMixin, _XGBModel):
    """xgboost's ``XGBRegressor`` over an mlbridge server: the arguments and attributes of
    :class:`XGBClassifier` without the classes; the objective defaults to ``reg:squarederror``."""

    def fit(self, X: Any, y: Any, *, sample_weight: Any = None, eval_set: Any = None) -> XGBRegressor:
        """Trains on the server. ``X``: 2-D numbers (NaN missing); ``y``: one number per row."""
        self._no_eval_set(eval_set)
        X, y = validate_data(self, X, y, dtype=np.float32, ensure_all_finite="allow-nan", y_numeric=True)
        X = self._with_missing(X)
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y: the targets must be finite numbers")
        params = self._xgb_parameters()
        params["objective"] = self.objective or "reg:squarederror"
        self._train(X, y.astype(np.float32), sample_weight, params, None)
        return self

    def predict(self, X: Any) -> NDArray[np.float32]:
        """The predicted value of each row (float32, as xgboost's)."""
        return self._predict_values(X, "default")[:, 0]

    @classmethod
    def from_model(cls, name: str, *, client: ClientLike = None) -> XGBRegressor:
        """A fitted estimator over a booster already stored as ``name``; a model of another kind
        raises InvalidInputError."""
        info = cls._server_info(name, client)
        est = cls(client=client)
        est.model_name_ = name
        est.owns_model_ = False
        if info.feature_names:
            est.feature_names_in_ = np.asarray(info.feature_names, dtype=object)
            est.n_features_in_ = len(info.feature_names)
        return est


# --- CRF -------------------------------------------------------------------------------------

#: sklearn-crfsuite's argument → CRFsuite's parameter (what python-crfsuite's Trainer sets).
_CRF_PARAMS = {
    "min_freq": "feature.minfreq",
    "all_possible_states": "feature.possible_states",
    "all_possible_transitions": "feature.possible_transitions",
    "c1": "c1",
    "c2": "c2",
    "max_iterations": "max_iterations",
    "num_memories": "num_memories",
    "epsilon": "epsilon",
    "period": "period",
    "delta": "delta",
    "linesearch": "linesearch",
    "max_linesearch": "max_linesearch",
    "calibration_eta": "calibration.eta",
    "calibration_rate": "calibration.rate",
    "calibration_samples": "calibration.samples",
    "calibration_candidates": "calibration.candidates",
    "calibration_max_trials": "calibration.max_trials",
    "pa_type": "type",
    "c": "c",
    "error_sensitive": "error_sensitive",
    "averaging": "averaging",
    "variance": "variance",
    "gamma": "gamma",
}

#: An item of a sequence as sklearn-crfsuite takes it: a dict of features (``{"word.lower()": "london",
#: "word.isupper()": False, "postag": "NNP", "bias": 1.0}``) or a list of attribute names.
Item = ItemLike


class CRF(_ServerModel):
    """sklearn-crfsuite's ``CRF`` over an mlbridge server (the module's docstring says how it
    connects, names, keeps and deletes its models).

    ``X`` is a list of sequences, each a list of items: a dict of features as
    python-crfsuite takes them — a string value ``v`` of key ``k`` is the attribute
    ``k:v`` (weight 1), a number is the attribute ``k`` with that weight, ``True`` weight
    1 and ``False`` 0, a nested dict or list prefixes its keys with ``k:`` — or a list of
    attribute names; ``y`` is a list of label lists (strings). The items are sent packed
    (one byte string of attribute names per batch), so the attributes are those
    python-crfsuite would give CRFsuite: a model exported with :meth:`export_model`
    tags the same in ``pycrfsuite.Tagger``.

    The arguments are sklearn-crfsuite's (``None``: CRFsuite's default; each is sent
    only when set, and one the algorithm lacks raises InvalidInputError naming it);
    ``algorithm`` is ``"lbfgs"`` (default), ``"l2sgd"``, ``"ap"``, ``"pa"`` or
    ``"arow"``; ``verbose`` prints each training iteration. Not supported:
    ``model_filename``, ``keep_tempfiles``, ``trainer_cls`` (the model lives on the
    server; :meth:`export_model` saves its file) and ``X_dev``/``y_dev``. mlbridge's
    own (keyword-only): ``client``, ``model_prefix``, ``test_fraction`` (0: train on
    every sequence) and ``random_state`` (which sequences are held out).

    Fitted attributes: ``classes_`` (the model's labels), ``model_name_``,
    ``train_report_`` (:class:`mlbridge.CrfTrainReport`).
    """

    _kind = "crf"

    def __init__(
        self,
        algorithm: Optional[CrfAlgorithm] = None,
        min_freq: Optional[float] = None,
        all_possible_states: Optional[bool] = None,
        all_possible_transitions: Optional[bool] = None,
        c1: Optional[float] = None,
        c2: Optional[float] = None,
        max_iterations: Optional[int] = None,
        num_memories: Optional[int] = None,
        epsilon: Optional[float] = None,
        period: Optional[int] = None,
        delta: Optional[float] = None,
        linesearch: Optional[str] = None,
        max_linesearch: Optional[int] = None,
        calibration_eta: Optional[float] = None,
        calibration_rate: Optional[float] = None,
        calibration_samples: Optional[float] = None,
        calibration_candidates: Optional[int] = None,
        calibration_max_trials: Optional[int] = None,
        pa_type: Optional[int] = None,
        c: Optional[float] = None,
        error_sensitive: Optional[bool] = None,
        averaging: Optional[bool] = None,
        variance: Optional[float] = None,
        gamma: Optional[float] = None,
        verbose: bool = False,
        *,
        client: ClientLike = None,
        model_prefix: str = "sklearn",
        test_fraction: float = 0.0,
        random_state: Optional[int] = None,
    ) -> None:
        self.algorithm = algorithm
        self.min_freq = min_freq
        self.all_possible_states = all_possible_states
        self.all_possible_transitions = all_possible_transitions
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.num_memories = num_memories
        self.epsilon = epsilon
        self.period = period
        self.delta = delta
        self.linesearch = linesearch
        self.max_linesearch = max_linesearch
        self.calibration_eta = calibration_eta
        self.calibration_rate = calibration_rate
        self.calibration_samples = calibration_samples
        self.calibration_candidates = calibration_candidates
        self.calibration_max_trials = calibration_max_trials
        self.pa_type = pa_type
        self.c = c
        self.error_sensitive = error_sensitive
        self.averaging = averaging
        self.variance = variance
        self.gamma = gamma
        self.verbose = verbose
        self.client = client
        self.model_prefix = model_prefix
        self.test_fraction = test_fraction
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is a list of sequences of feature dicts
        tags.target_tags.required = True
        return tags

    def fit(self, X: Sequence[Sequence[Item]], y: Sequence[Sequence[str]], X_dev: Any = None, y_dev: Any = None) -> CRF:
        """Trains on the server: ``X`` a list of sequences of items, ``y`` a list of label lists."""
        if X_dev is not None or y_dev is not None:
            raise ValueError(
                "X_dev, y_dev: the server's training API takes no separate evaluation data; test_fraction=0.2 (say) has the "
                "server hold out that share of the sequences and report its metrics in train_report_.metrics"
            )
        sequences = _labelled(X, y)
        name = self._new_model_name()
        parameters = {param: getattr(self, arg) for arg, param in _CRF_PARAMS.items() if getattr(self, arg) is not None}
        fraction = float(self.test_fraction)
        report = self._client().crf.train(
            name,
            sequences=sequences,
            algorithm=self.algorithm or "lbfgs",
            parameters=parameters,
            test_fraction=fraction if fraction > 0 else None,
            no_holdout=fraction <= 0,
            seed=_seed(self.random_state),
            on_progress=_print_progress if self.verbose else None,
        )
        self.model_name_ = name
        self.owns_model_ = True
        self.train_report_: CrfTrainReport = report
        self.classes_ = list(report.model.labels)
        return self

    def predict(self, X: Sequence[Sequence[Item]]) -> List[List[str]]:
        """The most likely labels of each sequence (a list of label lists)."""
        check_is_fitted(self)
        if len(X) == 0:
            return []
        return [t.labels for t in self._client().crf.tag(self.model_name_, X)]

    def predict_single(self, xseq: Sequence[Item]) -> List[str]:
        """The labels of one sequence."""
        return self.predict([xseq])[0]

    def predict_marginals(self, X: Sequence[Sequence[Item]]) -> List[List[Dict[str, float]]]:
        """Per sequence and item, the marginal probability of every label (``{label: p}``, the
        labels in ``classes_`` order), computed by the server's tagger."""
        check_is_fitted(self)
        if len(X) == 0:
            return []
        tagged = self._client().crf.tag(self.model_name_, X, marginals=True)
        return [t.marginals or [] for t in tagged]

    def predict_marginals_single(self, xseq: Sequence[Item]) -> List[Dict[str, float]]:
        """The marginals of one sequence."""
        return self.predict_marginals([xseq])[0]

    def score(self, X: Sequence[Sequence[Item]], y: Sequence[Sequence[str]]) -> float:
        """Token accuracy: the share of all items tagged right (sklearn-crfsuite's
        ``metrics.flat_accuracy_score``)."""
        _check_lengths(X, y)
        predicted = self.predict(X)
        total = sum(len(s) for s in y)
        if total == 0:
            raise ValueError("y: no labels to score")
        right = sum(int(p == t) for ps, ts in zip(predicted, y) for p, t in zip(ps, ts))
        return right / total

    @classmethod
    def from_model(cls, name: str, *, client: ClientLike = None) -> CRF:
        """A fitted estimator over a CRF model already stored as ``name`` (trained from a CSV,
        imported from python-crfsuite...); a model of another kind raises InvalidInputError."""
        info = cls._server_info(name, client)
        est = cls(client=client)
        est.model_name_ = name
        est.owns_model_ = False
        est.classes_ = list(info.labels)
        return est


def _check_lengths(X: Sequence[Any], y: Sequence[Any]) -> None:
    for what, v in (("X", X), ("y", y)):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
            raise TypeError(f"{what}: expected a list of sequences, got {type(v).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X, y: {len(X)} sequences but {len(y)} label sequences")
    for i, (xseq, yseq) in enumerate(zip(X, y)):
        if isinstance(yseq, str) or not hasattr(yseq, "__len__"):
            raise TypeError(f"y[{i}]: expected a list of labels, got {type(yseq).__name__}")
        if isinstance(xseq, (str, bytes, Mapping)) or not hasattr(xseq, "__len__"):
            raise TypeError(f"X[{i}]: expected a list of items, got {type(xseq).__name__}")
        if len(xseq) != len(yseq):
            raise ValueError(f"X[{i}], y[{i}]: {len(xseq)} items but {len(yseq)} labels")


def _labelled(X: Sequence[Sequence[Item]], y: Sequence[Sequence[str]]) -> List[Tuple[Sequence[Item], Sequence[str]]]:
    _check_lengths(X, y)
    if len(X) == 0:
        raise ValueError("X: no sequences to train on")
    for i, yseq in enumerate(y):
        for j, label in enumerate(yseq):
            if not isinstance(label, str):
                raise TypeError(f"y[{i}][{j}]: labels are strings (as python-crfsuite takes them), got {label!r}")
    return list(zip(X, y))


def _print_progress(p: TrainProgress) -> None:
    if p.stage == "training" and p.iteration:
        print(f"iteration {p.iteration}: loss {p.loss:.6g}, {p.active_features} active features, {p.elapsed_seconds:.2f} s", flush=True)
