"""CRF data on the wire: items and sequences in the one packed form
(CrfPackedSequences), labelled batches for training, feature templates."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Sized, Tuple, Union

from mlbridge._data import CrfFeature
from mlbridge._proto.mlbridge.v1 import crf_service_pb2 as crf_pb
from mlbridge._proto.mlbridge.v1 import types_pb2 as types_pb

#: An attribute: a name (weight 1.0) or a ``(name, weight)`` pair.
AttributeLike = Union[str, Tuple[str, float], Sequence[Any]]
#: An item: a list of attributes, or a dict like python-crfsuite's ItemSequence
#: accepts (``{name: weight}``, ``{name: bool}``, ``{name: "value"}`` → ``name:value``,
#: ``{prefix: {...}}`` / ``{prefix: [...]}`` → ``prefix:...``).
ItemLike = Union[Mapping[str, Any], Iterable[AttributeLike]]
#: A sequence (sentence): a list of items.
SequenceLike = Iterable[ItemLike]
#: A training sequence: its items and one label per item.
LabelledSequence = Tuple[SequenceLike, Sequence[str]]
#: A feature of a CRF template: a CrfFeature, a column name, ``(column, weight[, prefix])``
#: or ``{"column": ..., "weight": ..., "prefix": ...}``.
FeatureLike = Union[CrfFeature, str, Tuple[Any, ...], Mapping[str, Any]]

#: Training sequences are sent in batches of about this many attributes per message.
ATTRIBUTES_PER_MESSAGE = 64 * 1024


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: a weight must be a number, got {value!r}") from None


def _flatten(prefix: str, value: Any, names: List[str], weights: List[float], where: str) -> None:
    """Flattens python-crfsuite style dict values under ``prefix``."""
    if isinstance(value, str):
        names.append(f"{prefix}:{value}")
        weights.append(1.0)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}:{k}", v, names, weights, where)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            if not isinstance(v, str):
                raise TypeError(f"{where}: nested lists hold attribute names, got {v!r}")
            names.append(f"{prefix}:{v}")
            weights.append(1.0)
    else:
        names.append(prefix)
        weights.append(_weight(value, where))


def _attributes(item: ItemLike, where: str) -> Tuple[List[str], List[float]]:
    """The names and weights of one item's attributes."""
    names: List[str] = []
    weights: List[float] = []
    if isinstance(item, Mapping):
        for k, v in item.items():
            _flatten(str(k), v, names, weights, where)
    elif isinstance(item, (str, bytes)):
        raise TypeError(f"{where}: an item is a list of attributes or a dict, not a string ({item!r}); wrap it in a list")
    else:
        for a in item:
            if isinstance(a, str):
                names.append(a)
                weights.append(1.0)
            elif isinstance(a, (tuple, list)) and len(a) == 2 and isinstance(a[0], str):
                names.append(a[0])
                weights.append(_weight(a[1], where))
            else:
                raise TypeError(f"{where}: an attribute is a name or a (name, weight) pair, got {a!r}")
    return names, weights


def to_packed(sequences: Iterable[SequenceLike], what: str = "sequences", first: int = 0) -> crf_pb.CrfPackedSequences:
    """Converts sequences to the packed form (CrfPackedSequences): all attribute
    names in one NUL-terminated byte string plus three number lists, so that
    neither side handles a message per item or attribute. Names and weights are
    checked by the server (once, naming the position); only a NUL, which would
    break the framing, is refused here. ``first`` numbers the sequences in
    messages (``what[first + i]``)."""
    if isinstance(sequences, (str, bytes)):
        raise TypeError(f"{what}: expected a list of sequences, got a string")
    names: List[str] = []
    weights: List[float] = []
    counts: List[int] = []
    lengths: List[int] = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes, Mapping)):
            raise TypeError(f"{what}[{first + i}]: a sequence is a list of items, got {type(seq).__name__}")
        n = 0
        for t, item in enumerate(seq):
            where = f"{what}[{first + i}][{t}]"
            item_names, item_weights = _attributes(item, where)
            for name in item_names:
                if "\0" in name:
                    raise ValueError(f"{where}: an attribute name must hold no NUL character, got {name!r}")
            names.extend(item_names)
            weights.extend(item_weights)
            counts.append(len(item_names))
            n += 1
        lengths.append(n)
    msg = crf_pb.CrfPackedSequences(
        attribute_names=("\0".join(names) + "\0").encode("utf-8") if names else b"",
        item_attribute_counts=counts,
        sequence_lengths=lengths,
    )
    if any(w != 1.0 for w in weights):
        msg.attribute_weights.extend(weights)
    return msg


def labelled_batches(sequences: Iterable[LabelledSequence], what: str = "sequences") -> Iterator[crf_pb.CrfLabelledSequences]:
    """Training sequences, ``(items, labels)`` pairs, as CrfLabelledSequences
    messages of about ATTRIBUTES_PER_MESSAGE attributes each."""
    if isinstance(sequences, (str, bytes)):
        raise TypeError(f"{what}: expected a list of (items, labels) pairs, got a string")
    batch: List[List[ItemLike]] = []
    labels: List[str] = []
    attributes = 0
    first = 0
    for i, pair in enumerate(sequences):
        try:
            items, item_labels = pair
        except (TypeError, ValueError):
            raise TypeError(f"{what}[{i}]: expected an (items, labels) pair") from None
        if isinstance(items, (str, bytes, Mapping)):
            raise TypeError(f"{what}[{i}]: a sequence is a list of items, got {type(items).__name__}")
        if isinstance(item_labels, str):
            raise TypeError(f"{what}[{i}]: labels are a list of strings, got a string")
        items = list(items)
        item_labels = list(item_labels)
        if len(item_labels) != len(items):
            raise ValueError(f"{what}[{i}]: {len(items)} items but {len(item_labels)} labels")
        if not batch:
            first = i
        batch.append(items)
        labels.extend(item_labels)
        attributes += sum(len(it) if isinstance(it, Sized) else 1 for it in items)
        if attributes >= ATTRIBUTES_PER_MESSAGE:
            yield crf_pb.CrfLabelledSequences(sequences=to_packed(batch, what, first), labels=labels)
            batch, labels, attributes = [], [], 0
    if batch:
        yield crf_pb.CrfLabelledSequences(sequences=to_packed(batch, what, first), labels=labels)


def to_feature(f: FeatureLike, where: str) -> types_pb.CrfFeature:
    if isinstance(f, CrfFeature):
        return types_pb.CrfFeature(column=f.column, weight=f.weight, prefix=f.prefix)
    if isinstance(f, str):
        return types_pb.CrfFeature(column=f)
    if isinstance(f, Mapping):
        msg = types_pb.CrfFeature(column=str(f["column"]), prefix=str(f.get("prefix", "")))
        if f.get("weight") is not None:
            msg.weight = _weight(f["weight"], where)
        return msg
    if isinstance(f, tuple) and 1 <= len(f) <= 3:
        msg = types_pb.CrfFeature(column=str(f[0]))
        if len(f) > 1 and f[1] is not None:
            msg.weight = _weight(f[1], where)
        if len(f) > 2:
            msg.prefix = str(f[2])
        return msg
    raise TypeError(f"{where}: a feature is a CrfFeature, a column name, (column, weight[, prefix]) or a dict, got {f!r}")


def to_template(template: Optional[Iterable[FeatureLike]], what: str = "feature_template") -> Optional[types_pb.CrfFeatureTemplate]:
    if template is None:
        return None
    return types_pb.CrfFeatureTemplate(features=[to_feature(f, f"{what}[{i}]") for i, f in enumerate(template)])
