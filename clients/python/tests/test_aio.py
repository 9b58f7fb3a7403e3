"""mlbridge.aio: the asyncio client, against the real server, giving what the synchronous client gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from conftest import IRIS_MODEL, NER_MODEL
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
