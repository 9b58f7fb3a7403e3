"""The one train loop of every model kind: header, data, progress events, one report."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from mlbridge._data import TrainProgress
from mlbridge._rpc import Rpc
from mlbridge.errors import MlBridgeError

ProgressCallback = Callable[[TrainProgress], Any]


def run_training(rpc: Rpc, method: Any, requests: Iterable[Any], on_progress: Optional[ProgressCallback]) -> Any:
    """Runs a header-then-data training call; calls ``on_progress`` per progress event and
    returns the report message. Anything raised (including KeyboardInterrupt or an
    exception from ``on_progress``) cancels the call, which stops the training."""
    report = None
    for resp in rpc.bidi(method, requests):
        kind = resp.WhichOneof("event")
        if kind == "progress":
            if on_progress is not None:
                on_progress(TrainProgress.from_proto(resp.progress))
        elif kind == "report":
            report = resp.report
    if report is None:
        raise MlBridgeError("the server ended the training without a report")
    return report
