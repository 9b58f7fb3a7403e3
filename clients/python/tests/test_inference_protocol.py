"""The Open Inference Protocol (KServe V2) endpoint, through a client no one here wrote:
Triton's ``tritonclient[grpc]`` (its high-level InferenceServerClient, and its generated
``GRPCInferenceService`` stubs for what the high-level client cannot send: typed contents).

Predictions are compared with mlbridge's own ``XgboostService.Predict`` / ``CrfService.Tag``
and with the installed xgboost running the exported model in-process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, List

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tc
import xgboost as xgb
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import IRIS_MODEL, NER_MODEL, book_items, read_rows
from mlbridge import Client, CrfTrainReport, XgboostTrainReport

SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def triton(address: str) -> Iterator[tc.InferenceServerClient]:
    c = tc.InferenceServerClient(url=address)
    yield c
    c.close()


@pytest.fixture
def stub(address: str) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def iris_x(data: Path) -> np.ndarray:
    return np.asarray([[float(r[c]) for c in FEATURES] for r in read_rows(data / "iris.csv")], dtype=np.float32)


def local_booster(client: Client, tmp_path: Path) -> Any:
    """The server's iris model, exported and opened by the installed xgboost."""
    path = tmp_path / "iris.json"
    client.models.export(IRIS_MODEL, path, format="json")
    return xgb.Booster(model_file=str(path))


def softmax(m: np.ndarray) -> np.ndarray:
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_server_and_model_endpoints(triton: tc.InferenceServerClient, iris_model: XgboostTrainReport) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    meta = triton.get_server_metadata(as_json=True)
    assert meta["name"] == "mlbridge" and meta["extensions"] == ["model_repository"]
    assert meta["version"]
    assert triton.is_model_ready(IRIS_MODEL)
    assert not triton.is_model_ready("no-such-model")
    md = triton.get_model_metadata(IRIS_MODEL, as_json=True)
    assert md["platform"] == "xgboost_ubj"
    assert md["versions"] == [str(iris_model.model.version)]  # the store's version number (ModelInfo.version)
    assert md["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "4"]}]  # int64 as JSON strings
    assert md["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": ["-1"]},
        {"name": "predict_proba", "datatype": "FP32", "shape": ["-1", "3"]},
    ]


def test_raw_fp32_infer_equals_mlbridge_and_xgboost(
    triton: tc.InferenceServerClient, client: Client, iris_model: XgboostTrainReport, data: Path, tmp_path: Path
) -> None:
    """tritonclient sends numpy inputs as raw_input_contents; the answer comes back raw."""
    x = iris_x(data)
    inp = tc.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    outputs = [tc.InferRequestedOutput("predict"), tc.InferRequestedOutput("predict_proba")]
    res = triton.infer(IRIS_MODEL, [inp], outputs=outputs, request_id="raw-150")
    response = res.get_response()
    assert response.id == "raw-150"
    assert len(response.raw_output_contents) == 2
    predict = res.as_numpy("predict")
    proba = res.as_numpy("predict_proba")
    assert predict.shape == (150,) and predict.dtype == np.int64
    assert proba.shape == (150, 3) and proba.dtype == np.float32
    params = {o.name: o.parameters["class_names"].string_param for o in response.outputs}
    assert json.loads(params["predict"]) == SPECIES

    own = client.xgboost.predict(IRIS_MODEL, x)
    assert [SPECIES[k] for k in predict] == own.class_names
    np.testing.assert_array_equal(predict, own.values[:, 0].astype(np.int64))  # multi:softmax: class indices
    np.testing.assert_array_equal(proba, client.xgboost.predict(IRIS_MODEL, x, output="probabilities").values)

    booster = local_booster(client, tmp_path)
    dm = xgb.DMatrix(x, feature_names=booster.feature_names)
    np.testing.assert_array_equal(predict, booster.predict(dm).astype(np.int64))
    np.testing.assert_allclose(proba, softmax(booster.predict(dm, output_margin=True)), rtol=1e-5, atol=1e-6)


def test_typed_fp32_infer_with_tritonclient_stubs(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, client: Client, iris_model: XgboostTrainReport, data: Path
) -> None:
    """Typed contents (fp32_contents) in, typed contents out."""
    x = iris_x(data)[::10]
    req = service_pb2.ModelInferRequest(model_name=IRIS_MODEL, id="typed")
    tensor = req.inputs.add(name="input", datatype="FP32", shape=list(x.shape))
    tensor.contents.fp32_contents.extend(x.ravel().tolist())
    resp = stub.ModelInfer(req)
    assert resp.id == "typed" and not resp.raw_output_contents
    by_name = {o.name: o for o in resp.outputs}
    predict = np.asarray(by_name["predict"].contents.int64_contents)
    proba = np.asarray(by_name["predict_proba"].contents.fp32_contents, dtype=np.float32).reshape(list(by_name["predict_proba"].shape))
    own = client.xgboost.predict(IRIS_MODEL, x, output="probabilities")
    assert [SPECIES[k] for k in predict] == own.class_names
    np.testing.assert_array_equal(proba, own.values)


def test_fp64_raw_and_typed(
    triton: tc.InferenceServerClient, stub: service_pb2_grpc.GRPCInferenceServiceStub, iris_model: XgboostTrainReport, data: Path
) -> None:
    x32 = iris_x(data)[:20]
    inp = tc.InferInput("input", list(x32.shape), "FP32")
    inp.set_data_from_numpy(x32)
    expected = triton.infer(IRIS_MODEL, [inp]).as_numpy("predict_proba")

    x64 = x32.astype(np.float64)
    inp = tc.InferInput("input", list(x64.shape), "FP64")
    inp.set_data_from_numpy(x64)
    np.testing.assert_array_equal(triton.infer(IRIS_MODEL, [inp]).as_numpy("predict_proba"), expected)

    req = service_pb2.ModelInferRequest(model_name=IRIS_MODEL)
    req.inputs.add(name="input", datatype="FP64", shape=list(x64.shape)).contents.fp64_contents.extend(x64.ravel().tolist())
    req.outputs.add(name="predict_proba")
    resp = stub.ModelInfer(req)
    assert [o.name for o in resp.outputs] == ["predict_proba"]
    np.testing.assert_array_equal(np.asarray(resp.outputs[0].contents.fp32_contents, dtype=np.float32).reshape(20, 3), expected)


def test_errors_are_invalid_argument(triton: tc.InferenceServerClient, iris_model: XgboostTrainReport) -> None:
    def infer(x: np.ndarray, datatype: str) -> None:
        inp = tc.InferInput("input", list(x.shape), datatype)
        inp.set_data_from_numpy(x)
        triton.infer(IRIS_MODEL, [inp])

    cases = [
        (np.ones((2, 3), dtype=np.float32), "FP32", "expects 4 features per row, got 3"),
        (np.ones((2, 4), dtype=np.float16), "FP16", 'must be FP32 or FP64, got "FP16"'),
        (np.ones((4,), dtype=np.float32), "FP32", "must be [rows, features], got [4]"),
    ]
    for x, datatype, message in cases:
        with pytest.raises(InferenceServerException) as e:
            infer(x, datatype)
        assert e.value.status() == "StatusCode.INVALID_ARGUMENT", e.value
        assert message in e.value.message()


def test_repository_index_load_unload(triton: tc.InferenceServerClient, client: Client, data: Path) -> None:
    name = "oip-repository"
    client.xgboost.train(name, data / "iris.csv", preset="iris")
    index = {m["name"]: m for m in triton.get_model_repository_index(as_json=True)["models"]}
    assert index[name]["state"] == "READY"
    triton.unload_model(name)
    index = {m["name"]: m for m in triton.get_model_repository_index(as_json=True)["models"]}
    assert index[name]["state"] == "UNAVAILABLE" and "not loaded" in index[name]["reason"]
    assert triton.is_model_ready(name)  # still in the store: loaded on the next request
    triton.load_model(name)
    index = {m["name"]: m for m in triton.get_model_repository_index(as_json=True)["models"]}
    assert index[name]["state"] == "READY"
    with pytest.raises(InferenceServerException) as e:
        triton.load_model("no-such-model")
    assert e.value.status() == "StatusCode.NOT_FOUND"
    assert client.models.get(name).name == name  # unload never deletes


def test_crf_bytes_tensors(triton: tc.InferenceServerClient, client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    """CRF: one token's attributes per BYTES element (tab-separated, `name:weight`), labels out."""
    sentences = book_items(read_rows(data / "ner.csv"))[:5]

    def escape(name: str) -> str:
        return name.replace("\\", "\\\\").replace(":", "\\:")

    def encode(item: List[Any]) -> bytes:
        return "\t".join(f"{escape(n)}:{w}" for n, w in item).encode()

    tokens = np.array([encode(item) for s in sentences for item in s], dtype=np.object_)
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    a = tc.InferInput("attributes", [len(tokens)], "BYTES")
    a.set_data_from_numpy(tokens)
    n = tc.InferInput("sequence_lengths", [len(lengths)], "INT64")
    n.set_data_from_numpy(lengths)
    res = triton.infer(NER_MODEL, [a, n], outputs=[tc.InferRequestedOutput("labels"), tc.InferRequestedOutput("probability")])
    labels = [b.decode() for b in res.as_numpy("labels")]
    tagged = client.crf.tag(NER_MODEL, sentences, probability=True)
    assert labels == [label for t in tagged for label in t.labels]
    np.testing.assert_allclose(res.as_numpy("probability"), [t.probability for t in tagged], rtol=1e-12)
