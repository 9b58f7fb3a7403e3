"""CrfService through client.crf: structured tagging, marginals, streaming, structured training."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from conftest import NER_MODEL, book_items, read_rows
from mlbridge import CancelledError, Client, CrfTrainReport, InvalidInputError, ModelNotFoundError, TrainProgress


def predict_sentences(data: Path) -> List[List[List[Tuple[str, float]]]]:
    return book_items(read_rows(data / "ner_predict.csv"))


def test_ner_model_report(ner_model: CrfTrainReport) -> None:
    r = ner_model
    assert r.model.name == NER_MODEL and r.model.kind == "crf"
    assert r.model.parameters["feature_preset"] == "book" and r.model.parameters["algorithm"] == "arow"
    assert r.train_sequences > 0 and r.test_sequences > 0
    # 20% of the sentences held out by default.
    assert r.test_sequences / (r.train_sequences + r.test_sequences) == pytest.approx(0.2, abs=0.01)
    assert r.metrics is not None
    # Measured on the project's ner.csv (book preset): non-O 0.9614 (698/726), token accuracy 0.9853.
    assert 0.92 < r.metrics.book_accuracy <= 1 and 0.96 < r.metrics.token_accuracy <= 1
    assert r.accuracy_line.startswith(f"accuracy={r.metrics.book_accuracy:.4f}")
    assert {m.label for m in r.metrics.labels} >= {"B-geo", "B-gpe", "B-org", "B-per", "I-per", "B-tim"}
    assert r.iterations > 0 and r.train_seconds > 0


def test_structured_tagging_matches_csv_predict(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    """Items built like the book's (lemma 1.0, next-lemma 0.5) tag exactly as the CSV does."""
    sentences = predict_sentences(data)
    tagged = client.crf.tag(NER_MODEL, sentences)
    assert len(tagged) == len(sentences)
    flat = [label for t in tagged for label in t.labels]
    assert flat == client.crf.predict(NER_MODEL, data / "ner_predict.csv")
    assert all(t.probability is None and t.marginals is None for t in tagged)


def test_tagging_with_marginals_and_probability(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    sentences = predict_sentences(data)
    tagged = client.crf.tag(NER_MODEL, sentences, probability=True, marginals=True)
    labels = ner_model.model.labels
    for seq, t in zip(sentences, tagged):
        assert t.probability is not None and 0 < t.probability <= 1
        assert t.marginals is not None and len(t.marginals) == len(seq) == len(t.labels)
        for item_marginals, label in zip(t.marginals, t.labels):
            assert list(item_marginals) == labels  # one probability per model label, in model order
            assert math.fsum(item_marginals.values()) == pytest.approx(1.0, abs=1e-6)
            assert all(0 <= p <= 1 for p in item_marginals.values())
            assert item_marginals[label] > 0
    # The path's probability is at most that of any of its single labels.
    t = tagged[0]
    assert t.probability is not None and t.marginals is not None
    assert t.probability <= min(m[label] for m, label in zip(t.marginals, t.labels)) + 1e-9


def test_item_formats_are_equivalent(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    """(name, weight) pairs, dicts and plain names (weight 1) are the same items."""
    rows = read_rows(data / "ner_predict.csv")
    pairs = [[(r["lemma"], 1.0), (r["next-lemma"], 0.5)] for r in rows]
    dicts: List[Dict[str, Any]] = [{r["lemma"]: 1.0, r["next-lemma"]: 0.5} for r in rows]
    mixed = [[r["lemma"], [r["next-lemma"], 0.5]] for r in rows]
    a, b, c = (client.crf.tag(NER_MODEL, [s], probability=True)[0] for s in (pairs, dicts, mixed))
    assert a.labels == b.labels == c.labels
    assert a.probability == pytest.approx(b.probability) and a.probability == pytest.approx(c.probability)
    # A different weight is a different input: the path probability changes.
    heavier = [[(r["lemma"], 1.0), (r["next-lemma"], 2.0)] for r in rows]
    d = client.crf.tag(NER_MODEL, [heavier], probability=True)[0]
    assert d.probability != pytest.approx(a.probability)


def test_python_crfsuite_style_nested_dicts(client: Client, ner_model: CrfTrainReport) -> None:
    """{"prefix": {...}} and {"key": "value"} flatten like python-crfsuite's ItemSequence (prefix:key)."""
    nested = [{"london": 1.0, "x": {"to": 0.5}}, {"through": True, "y": "z"}]
    flat = [[("london", 1.0), ("x:to", 0.5)], ["through", "y:z"]]
    a = client.crf.tag(NER_MODEL, [nested], probability=True, marginals=True)[0]
    b = client.crf.tag(NER_MODEL, [flat], probability=True, marginals=True)[0]
    assert a.labels == b.labels and a.probability == pytest.approx(b.probability)
    assert a.marginals is not None and b.marginals is not None
    assert all(m == pytest.approx(n) for m, n in zip(a.marginals, b.marginals))


def test_bad_items_are_rejected_locally(client: Client) -> None:
    with pytest.raises(TypeError, match="not a string"):
        client.crf.tag(NER_MODEL, [["london"]])  # a sequence of strings, not of items
    with pytest.raises(TypeError, match=r"\(name, weight\)"):
        client.crf.tag(NER_MODEL, [[[("a", 1.0, 2.0)]]])
    with pytest.raises(TypeError, match="weight must be a number"):
        client.crf.tag(NER_MODEL, [[{"a": None}]])
    # The packed form sends names NUL-terminated: a NUL inside one cannot be sent.
    with pytest.raises(ValueError, match=r"sequences\[0\]\[1\]: an attribute name must hold no NUL"):
        client.crf.tag(NER_MODEL, [[["a"], ["b\0c"]]])


def test_bad_items_are_rejected_by_the_server_naming_the_position(client: Client) -> None:
    """Names and weights are checked once, by the server, which names the sequence, item and attribute."""
    with pytest.raises(InvalidInputError, match=r"attribute 1 \(sequence 1, item 0, attribute 0\) has an empty name"):
        client.crf.tag(NER_MODEL, [[["a"]], [[""]]])
    with pytest.raises(InvalidInputError, match=r"attribute 0 \(sequence 0, item 0, attribute 0\) is not finite"):
        client.crf.tag(NER_MODEL, [[[("a", float("nan"))]]])
    with pytest.raises(InvalidInputError, match=r"sequences\[0\]\.labels\[1\]"):
        client.crf.train("crf-bad-label", sequences=[([["a"], ["b"]], ["O", ""])], no_holdout=True)


def test_tag_empty_request_names_the_field(client: Client, ner_model: CrfTrainReport) -> None:
    with pytest.raises(InvalidInputError, match="packed.sequence_lengths: at least one sequence is required"):
        client.crf.tag(NER_MODEL, [])


def test_tag_stream_in_order(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    sentences = book_items(read_rows(data / "ner.csv"))[:30]
    batches = [sentences[i : i + 7] for i in range(0, len(sentences), 7)]
    results = list(client.crf.tag_stream(NER_MODEL, iter(batches), marginals=True))
    assert len(results) == len(batches)
    for batch, res in zip(batches, results):
        assert [t.labels for t in res] == [t.labels for t in client.crf.tag(NER_MODEL, batch)]
        assert all(t.marginals is not None and len(t.marginals) == len(s) for t, s in zip(res, batch))


def test_tag_stream_cancel(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    sentences = book_items(read_rows(data / "ner.csv"))[:5]

    def endless() -> Iterator[Any]:
        while True:
            yield sentences

    stream = client.crf.tag_stream(NER_MODEL, endless())
    assert len(next(stream)) == 5
    stream.cancel()
    with pytest.raises(CancelledError):
        for _ in range(1000):
            next(stream)


def test_tag_stream_error_names_the_batch(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    sentences = book_items(read_rows(data / "ner.csv"))[:2]
    stream = client.crf.tag_stream(NER_MODEL, [sentences, []])
    assert len(next(stream)) == 2
    with pytest.raises(InvalidInputError, match="batch 1"):
        next(stream)


def labelled_sentences(data: Path, limit: int = 400) -> List[Tuple[List[List[str]], List[str]]]:
    rows = read_rows(data / "ner.csv")
    out: List[Tuple[List[List[str]], List[str]]] = []
    current = None
    for r in rows:
        if r["sentence_idx"] != current:
            if len(out) == limit:
                break
            current = r["sentence_idx"]
            out.append(([], []))
        out[-1][0].append([f"lemma={r['lemma']}", f"pos={r['pos']}", f"shape={r['shape']}"])
        out[-1][1].append(r["tag"])
    return out


def test_train_structured_sequences(client: Client, data: Path) -> None:
    seqs = labelled_sentences(data)
    events: List[TrainProgress] = []
    report = client.crf.train(
        "crf-structured", sequences=seqs, algorithm="lbfgs", parameters={"max_iterations": 15}, no_holdout=True, on_progress=events.append
    )
    assert report.metrics is None and report.accuracy_line == ""
    assert report.train_sequences == len(seqs) and report.test_sequences == 0
    assert report.train_tokens == sum(len(x) for x, _ in seqs)
    assert set(report.model.labels) == {t for _, tags in seqs for t in tags}
    assert report.model.parameters["algorithm"] == "lbfgs"
    training = [e for e in events if e.stage == "training"]
    assert [e.iteration for e in training] == list(range(1, len(training) + 1))
    assert 0 < len(training) <= 15 and report.iterations == len(training)
    assert all(e.loss > 0 for e in training)
    elapsed = [e.elapsed_seconds for e in events]
    assert elapsed == sorted(elapsed) and elapsed[-1] > 0
    # It tags its own training data mostly right.
    tagged = client.crf.tag("crf-structured", [x for x, _ in seqs[:50]])
    right = sum(a == b for t, (_, tags) in zip(tagged, seqs) for a, b in zip(t.labels, tags))
    assert right / sum(len(tags) for _, tags in seqs[:50]) > 0.88  # measured: 0.9383


def test_train_with_custom_template_and_holdout(client: Client, data: Path) -> None:
    report = client.crf.train(
        "crf-template",
        data / "ner.csv",
        feature_template=[("word", 1.0, "w="), ("pos", 1.0, "p="), "shape"],
        algorithm="pa",
        parameters={"max_iterations": 10},
        test_fraction=0.3,
        seed=7,
    )
    assert report.test_sequences / (report.train_sequences + report.test_sequences) == pytest.approx(0.3, abs=0.01)
    assert [(f.column, f.weight, f.prefix) for f in report.model.feature_template] == [
        ("word", 1.0, "w="),
        ("pos", 1.0, "p="),
        ("shape", 1.0, ""),
    ]
    assert report.model.parameters["seed"] == "7"
    # The stored template drives CSV prediction.
    assert len(client.crf.predict("crf-template", data / "ner_predict.csv")) == len(read_rows(data / "ner_predict.csv")) == 13


def test_unknown_parameter_is_rejected(client: Client, data: Path) -> None:
    with pytest.raises(InvalidInputError, match="no_such_parameter"):
        client.crf.train("crf-bad-param", data / "ner.csv", feature_preset="book", parameters={"no_such_parameter": 1})
    with pytest.raises(ModelNotFoundError):
        client.models.get("crf-bad-param")


def test_unknown_algorithm_is_rejected_locally(client: Client, data: Path) -> None:
    with pytest.raises(ValueError, match="algorithm"):
        client.crf.train("x", data / "ner.csv", algorithm="sgd-magic")


def test_error_in_callers_sequences_cancels_and_reraises(client: Client, data: Path) -> None:
    seqs = labelled_sentences(data) * 6  # > 2 messages of 1000 sequences

    class Boom(Exception):
        pass

    def sequences() -> Iterator[Tuple[List[List[str]], List[str]]]:
        for i, s in enumerate(seqs):
            if i == 2100:  # after the first messages went out
                raise Boom("bad data at 2100")
            yield s

    with pytest.raises(Boom, match="bad data at 2100"):
        client.crf.train("crf-boom", sequences=sequences(), no_holdout=True)
    with pytest.raises(ModelNotFoundError):
        client.models.get("crf-boom")


def test_interrupt_during_training_cancels_it(client: Client, data: Path) -> None:
    """Ctrl-C (here from the progress callback) cancels the call: the server stores nothing."""
    seen: List[str] = []

    def interrupt(p: TrainProgress) -> None:
        seen.append(p.stage)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.crf.train("crf-interrupted", data / "ner.csv", feature_preset="rich", on_progress=interrupt)
    assert len(seen) == 1
    with pytest.raises(ModelNotFoundError):
        client.models.get("crf-interrupted")
    # The connection is still usable.
    assert client.text.count_words("still here") == {"still": 1, "here": 1}


def test_csv_and_sequences_are_exclusive(client: Client, data: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        client.crf.train("x", data / "ner.csv", sequences=[])
    with pytest.raises(ValueError, match="exactly one"):
        client.crf.train("x")
