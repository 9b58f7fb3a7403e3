"""mlbridge.aio: the asyncio client, against the real server, giving what the synchronous client gives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, List

import numpy as np
import pytest

from conftest import IRIS_MODEL, NER_MODEL, book_items, read_rows
from mlbridge import Client, CrfTrainReport, InvalidInputError, ModelNotFoundError, TrainProgress, XgboostTrainReport, aio
from test_inference_protocol import iris_x


def test_training_is_an_async_iterator_of_progress_then_the_report(address: str, data: Path) -> None:
    async def main() -> list[object]:
        async with aio.Client(address) as c:
            return [e async for e in c.xgboost.training("aio-iris", data / "iris.csv", preset="iris", num_rounds=3)]

    events = asyncio.run(main())
    assert all(isinstance(e, TrainProgress) for e in events[:-1]) and len(events) >= 4
    assert [e.iteration for e in events[:-1] if isinstance(e, TrainProgress) and e.stage == "training"] == [1, 2, 3]
    report = events[-1]
    assert isinstance(report, XgboostTrainReport) and report.model.name == "aio-iris"


def test_predict_tag_and_models_equal_the_synchronous_client(
    address: str, client: Client, iris_model: XgboostTrainReport, ner_model: CrfTrainReport, data: Path
) -> None:
    x = iris_x(data)[:10]
    sentence = [[("london", 1.0)], [("is", 1.0)], [("big", 1.0)]]

    async def main() -> tuple[object, ...]:
        async with aio.Client(address) as c:
            return await asyncio.gather(
                c.xgboost.predict(IRIS_MODEL, x, output="probabilities"),
                c.crf.tag(NER_MODEL, [sentence], probability=True),
                c.crf.predict(NER_MODEL, data / "ner_predict.csv"),
                c.models.get(IRIS_MODEL),
                c.models.list("crf"),
                *(c.text.count_words("a b a") for _ in range(10)),
            )

    proba, tagged, labels, info, crf_models, *counts = asyncio.run(main())
    np.testing.assert_array_equal(proba.values, client.xgboost.predict(IRIS_MODEL, x, output="probabilities").values)  # type: ignore[attr-defined]
    assert tagged == client.crf.tag(NER_MODEL, [sentence], probability=True)
    assert labels == client.crf.predict(NER_MODEL, data / "ner_predict.csv")
    assert info == client.models.get(IRIS_MODEL)
    assert [m.name for m in crf_models] == [m.name for m in client.models.list("crf")]  # type: ignore[attr-defined]
    assert counts == [{"a": 2, "b": 1}] * 10


def test_errors_are_the_same_classes(address: str) -> None:
    async def main() -> None:
        async with aio.Client(address) as c:
            with pytest.raises(ModelNotFoundError, match="model 'nope' not found"):
                await c.xgboost.predict("nope", [[1, 2, 3, 4]])
            with pytest.raises(InvalidInputError):
                await c.text.count_words("")
            with pytest.raises(ValueError, match="output: unknown"):
                await c.xgboost.predict(IRIS_MODEL, [[1, 2, 3, 4]], output="probabilites")

    asyncio.run(main())


def test_leaving_a_training_early_cancels_it_and_stores_nothing(address: str, client: Client, data: Path) -> None:
    async def main() -> int:
        seen = 0
        async with aio.Client(address) as c:
            events = c.crf.training("aio-cancelled", data / "ner.csv", algorithm="lbfgs", parameters={"max_iterations": 5000})
            async for e in events:
                if isinstance(e, TrainProgress) and e.stage == "training":
                    seen += 1
                    if seen == 2:
                        break
            await events.aclose()  # type: ignore[attr-defined]
        return seen

    assert asyncio.run(main()) == 2
    with pytest.raises(ModelNotFoundError):
        client.models.get("aio-cancelled")


def test_the_surface_is_the_synchronous_clients() -> None:
    """Every public method of the synchronous services exists in aio with the same parameters."""
    import inspect

    from mlbridge import CrfClient, ModelsClient, TextClient, XgboostClient

    pairs = [(CrfClient, aio.CrfClient), (XgboostClient, aio.XgboostClient), (TextClient, aio.TextClient), (ModelsClient, aio.ModelsClient)]
    for sync_cls, aio_cls in pairs:
        for name, method in inspect.getmembers(sync_cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            assert hasattr(aio_cls, name), f"aio.{aio_cls.__name__} lacks {name}"
            want = list(inspect.signature(method).parameters)
            assert list(inspect.signature(getattr(aio_cls, name)).parameters) == want, f"{aio_cls.__name__}.{name}"


def test_tag_stream_from_a_list_and_an_async_generator(address: str, client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    sentences = book_items(read_rows(data / "ner.csv"))[:20]
    batches = [sentences[i : i + 6] for i in range(0, len(sentences), 6)]

    async def produce() -> AsyncIterator[List[Any]]:
        for b in batches:
            await asyncio.sleep(0)
            yield b

    async def main() -> tuple[list[Any], list[Any]]:
        async with aio.Client(address) as c:
            from_list = [r async for r in c.crf.tag_stream(NER_MODEL, batches, marginals=True)]
            from_gen = [r async for r in c.crf.tag_stream(NER_MODEL, produce(), marginals=True)]
            return from_list, from_gen

    from_list, from_gen = asyncio.run(main())
    expected = list(client.crf.tag_stream(NER_MODEL, batches, marginals=True))
    assert from_list == expected and from_gen == expected
    assert [len(r) for r in from_list] == [6, 6, 6, 2]


def test_a_bad_batch_raises_its_own_error_and_cancels(address: str, ner_model: CrfTrainReport) -> None:
    async def main() -> list[Any]:
        got = []
        async with aio.Client(address) as c:
            async for r in c.crf.tag_stream(NER_MODEL, [[[["london"]]], [["not", "items"]]]):
                got.append(r)
        return got

    with pytest.raises(TypeError, match=r"batches\[1\]\[0\]\[0\]: an item is a list of attributes or a dict, not a string"):
        asyncio.run(main())


def test_count_words_stream_export_and_import(address: str, client: Client, iris_model: XgboostTrainReport, tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[str]:
        for piece in ["the ca", "t the h", "at"]:
            yield piece

    async def main() -> tuple[Any, ...]:
        async with aio.Client(address) as c:
            counts = await c.text.count_words_stream(chunks())
            exported = await c.models.export(IRIS_MODEL, tmp_path / "iris.ubj")
            imported = await c.models.import_model("aio-imported", tmp_path / "iris.ubj", "xgboost", class_names=exported.labels)
            with pytest.raises(FileNotFoundError):
                await c.models.import_model("aio-missing", tmp_path / "nope.ubj", "xgboost")
            with pytest.raises(ModelNotFoundError):
                await c.models.export("nope", tmp_path / "nope.ubj")
            return counts, exported, imported

    counts, exported, imported = asyncio.run(main())
    assert counts == client.text.count_words_stream(["the cat the hat"])
    assert counts.counts == {"the": 2, "cat": 1, "hat": 1}
    assert exported.name == IRIS_MODEL and (tmp_path / "iris.ubj").stat().st_size == exported.size_bytes
    assert not (tmp_path / "nope.ubj").exists() and [p.name for p in tmp_path.iterdir()] == ["iris.ubj"]  # no temporary file left
    assert imported.name == "aio-imported" and imported.labels == ["setosa", "versicolor", "virginica"]
    x = [[5.1, 3.5, 1.4, 0.2]]
    assert client.xgboost.predict("aio-imported", x).class_names == client.xgboost.predict(IRIS_MODEL, x).class_names == ["setosa"]
