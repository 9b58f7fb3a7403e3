"""CrfService: train CRFsuite taggers and tag with them."""

from __future__ import annotations

import collections
from typing import Any, Deque, Iterable, Iterator, List, Mapping, Optional

from mlbridge._choices import CrfAlgorithm, CrfFeaturePreset
from mlbridge._crf_wire import FeatureLike, LabelledSequence, SequenceLike, labelled_batches, to_packed, to_template
from mlbridge._data import CrfTrainReport, TaggedSequence
from mlbridge._files import PathLike, closing_chunks, open_local, read_local, then
from mlbridge._params import params
from mlbridge._proto.mlbridge.v1 import crf_service_pb2 as crf_pb
from mlbridge._rpc import Rpc
from mlbridge._training import ProgressCallback, run_training
from mlbridge.errors import MlBridgeError

__all__ = ["CrfClient", "ALGORITHMS"]

#: Algorithm names accepted by :meth:`CrfClient.train`.
ALGORITHMS = {
    "lbfgs": crf_pb.CRF_ALGORITHM_LBFGS,
    "l2sgd": crf_pb.CRF_ALGORITHM_L2SGD,
    "ap": crf_pb.CRF_ALGORITHM_AP,
    "averaged-perceptron": crf_pb.CRF_ALGORITHM_AP,
    "pa": crf_pb.CRF_ALGORITHM_PA,
    "passive-aggressive": crf_pb.CRF_ALGORITHM_PA,
    "arow": crf_pb.CRF_ALGORITHM_AROW,
}


def _algorithm(name: Optional[str]) -> int:
    if name is None or name == "":
        return crf_pb.CRF_ALGORITHM_UNSPECIFIED
    try:
        return ALGORITHMS[name.lower()]
    except KeyError:
        raise ValueError(f"algorithm: unknown {name!r} (known: lbfgs, l2sgd, ap, pa, arow)") from None


class CrfClient:
    """CRFsuite sequence taggers: ``client.crf``."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc

    def train(
        self,
        model_name: str,
        csv_path: Optional[PathLike] = None,
        *,
        sequences: Optional[Iterable[LabelledSequence]] = None,
        algorithm: Optional[CrfAlgorithm] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        feature_preset: Optional[CrfFeaturePreset] = None,
        feature_template: Optional[Iterable[FeatureLike]] = None,
        test_fraction: Optional[float] = None,
        seed: int = 0,
        no_holdout: bool = False,
        fail_if_exists: bool = False,
        on_progress: Optional[ProgressCallback] = None,
    ) -> CrfTrainReport:
        """Trains a tagger and stores it as ``model_name`` (CrfService.Train).

        Give the data either as ``csv_path``, a CSV file in the book's NER format
        (uploaded in 1 MiB chunks; rows become items through ``feature_preset``
        — ``"book"`` or ``"rich"`` (the server's default) — or ``feature_template``),
        or as ``sequences``, ``(items, labels)`` pairs of items like :meth:`tag` takes.

        ``algorithm`` is ``"lbfgs"``, ``"l2sgd"``, ``"ap"``, ``"pa"`` or ``"arow"``
        (default: the preset's); ``parameters`` are CRFsuite's (``max_iterations``,
        ``c2``...). ``test_fraction`` (default 0.2) of the sentences, picked with
        ``seed``, is held out for the report's metrics; ``no_holdout`` trains on all.
        ``on_progress`` is called with each :class:`TrainProgress`. Interrupting
        (Ctrl-C) cancels the training on the server, which then stores nothing.

        Raises FileNotFoundError before any call when ``csv_path`` does not exist,
        InvalidInputError for bad data (the message names the CSV line or field).
        """
        requests = train_requests(
            model_name,
            csv_path,
            sequences=sequences,
            algorithm=algorithm,
            parameters=parameters,
            feature_preset=feature_preset,
            feature_template=feature_template,
            test_fraction=test_fraction,
            seed=seed,
            no_holdout=no_holdout,
            fail_if_exists=fail_if_exists,
        )
        report = run_training(self._rpc, self._rpc.crf.Train, requests, on_progress)
        return CrfTrainReport.from_proto(report)

    def predict(self, model_name: str, csv_path: PathLike) -> List[str]:
        """Tags a CSV file in the book's predict format: one label per row, in file order
        (CrfService.Predict). Sentences (``sentence_idx``) are tagged as sequences."""
        data = read_local(csv_path)
        resp = self._rpc.unary(self._rpc.crf.Predict, crf_pb.CrfServicePredictRequest(model_name=model_name, csv=data))
        return list(resp.labels)

    def tag(
        self,
        model_name: str,
        sequences: Iterable[SequenceLike],
        *,
        probability: bool = False,
        marginals: bool = False,
    ) -> List[TaggedSequence]:
        """Tags structured sequences (CrfService.Tag).

        A sequence is a list of items; an item is a list of attribute names or
        ``(name, weight)`` pairs, or a dict like python-crfsuite's ItemSequence
        takes (``{"lemma=london": 1.0}``). Returns one :class:`TaggedSequence` per
        sequence; with ``probability`` its path probability, with ``marginals``
        per item the probability of every label (a dict label → probability).
        """
        req = tag_request(model_name, sequences, probability, marginals)
        return tag_result(req, self._rpc.unary(self._rpc.crf.Tag, req))

    def tag_stream(
        self,
        model_name: str,
        batches: Iterable[Iterable[SequenceLike]],
        *,
        probability: bool = False,
        marginals: bool = False,
    ) -> TagStream:
        """Tags batches of sequences over one stream (CrfService.TagStream).

        ``batches`` may be a generator; it is consumed as the server answers.
        Returns an iterator yielding, per batch and in order, the list of
        :class:`TaggedSequence`; call its ``cancel()`` to stop early.
        """

        def requests() -> Iterator[crf_pb.CrfServiceTagStreamRequest]:
            for i, batch in enumerate(batches):
                req = crf_pb.CrfServiceTagStreamRequest(
                    model_name=model_name,
                    packed=to_packed(batch, f"batches[{i}]"),
                    include_probability=probability,
                    include_marginals=marginals,
                )
                lengths.append(list(req.packed.sequence_lengths))
                yield req

        # The sequence lengths of each batch sent, taken when its answer comes.
        lengths: Deque[List[int]] = collections.deque()

        return TagStream(self._rpc, requests(), lengths, probability, marginals)


def train_requests(
    model_name: str,
    csv_path: Optional[PathLike] = None,
    *,
    sequences: Optional[Iterable[LabelledSequence]] = None,
    algorithm: Optional[CrfAlgorithm] = None,
    parameters: Optional[Mapping[str, Any]] = None,
    feature_preset: Optional[CrfFeaturePreset] = None,
    feature_template: Optional[Iterable[FeatureLike]] = None,
    test_fraction: Optional[float] = None,
    seed: int = 0,
    no_holdout: bool = False,
    fail_if_exists: bool = False,
) -> Iterator[crf_pb.CrfServiceTrainRequest]:
    """The messages of CrfService.Train (the header, then the CSV or the labelled sequences), for
    the synchronous and the asyncio client alike. Checks the arguments before any message is made."""
    if (csv_path is None) == (sequences is None):
        raise ValueError("give exactly one of csv_path or sequences")
    header = crf_pb.CrfTrainHeader(
        model_name=model_name,
        algorithm=_algorithm(algorithm),  # type: ignore[arg-type]
        parameters=params(parameters),
        feature_preset=feature_preset or "",
        seed=seed,
        no_holdout=no_holdout,
        fail_if_exists=fail_if_exists,
    )
    template = to_template(feature_template)
    if template is not None:
        header.feature_template.CopyFrom(template)
    if test_fraction is not None:
        header.test_fraction = float(test_fraction)
    first = crf_pb.CrfServiceTrainRequest(header=header)

    if csv_path is not None:
        f = open_local(csv_path)  # FileNotFoundError now, before any call
        return then(first, (crf_pb.CrfServiceTrainRequest(csv_chunk=c) for c in closing_chunks(f)))
    assert sequences is not None
    return then(first, (crf_pb.CrfServiceTrainRequest(sequences=b) for b in labelled_batches(sequences)))


def tag_request(model_name: str, sequences: Iterable[SequenceLike], probability: bool, marginals: bool) -> crf_pb.CrfServiceTagRequest:
    """The CrfService.Tag request of `sequences` (packed)."""
    return crf_pb.CrfServiceTagRequest(model_name=model_name, packed=to_packed(sequences), include_probability=probability, include_marginals=marginals)


def tag_result(req: crf_pb.CrfServiceTagRequest, resp: crf_pb.CrfServiceTagResponse) -> List[TaggedSequence]:
    """A Tag response as one TaggedSequence per request sequence."""
    return TaggedSequence.from_packed(resp.packed, req.packed.sequence_lengths, list(resp.labels), req.include_probability, req.include_marginals)


class TagStream(Iterator[List[TaggedSequence]]):
    """Results of :meth:`CrfClient.tag_stream`, one list per batch; ``cancel()`` stops the call."""

    def __init__(self, rpc: Rpc, requests: Iterator[crf_pb.CrfServiceTagStreamRequest], lengths: Deque[List[int]], probability: bool, marginals: bool) -> None:
        from mlbridge._rpc import RequestStream

        self._rpc = rpc
        self._lengths = lengths
        self._probability = probability
        self._marginals = marginals
        self._requests = RequestStream(requests)
        self._call = rpc.crf.TagStream(self._requests, **rpc.options())
        self._requests.attach(self._call)

    def __iter__(self) -> TagStream:
        return self

    def __next__(self) -> List[TaggedSequence]:
        try:
            with self._rpc.errors():
                resp = next(self._call)
        except MlBridgeError:
            if self._requests.error is not None:
                raise self._requests.error from None
            raise
        except StopIteration:
            if self._requests.error is not None:
                raise self._requests.error from None
            raise
        return TaggedSequence.from_packed(resp.packed, self._lengths.popleft(), list(resp.labels), self._probability, self._marginals)

    def cancel(self) -> None:
        """Cancels the call: the next ``next()`` raises CancelledError."""
        self._call.cancel()

    def __enter__(self) -> TagStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()
