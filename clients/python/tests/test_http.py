"""The V2 REST protocol (HTTP/JSON) with the clients Python users have: requests, httpx and tritonclient.http."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest
import requests
import tritonclient.grpc as tc_grpc
import tritonclient.http as tc_http
from tritonclient.utils import InferenceServerException

from conftest import IRIS_MODEL
from mlbridge import XgboostTrainReport
from test_inference_protocol import iris_x


@pytest.fixture
def triton_http(http_address: str) -> Iterator[tc_http.InferenceServerClient]:
    c = tc_http.InferenceServerClient(url=http_address)
    yield c
    c.close()


def grpc_proba(address: str, x: np.ndarray) -> np.ndarray:
    c = tc_grpc.InferenceServerClient(url=address)
    try:
        inp = tc_grpc.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        return c.infer(IRIS_MODEL, [inp]).as_numpy("predict_proba")
    finally:
        c.close()


def test_requests_infer_equals_grpc(http_address: str, address: str, iris_model: XgboostTrainReport, data: Path) -> None:
    x = iris_x(data)[:10]
    r = requests.post(
        f"http://{http_address}/v2/models/{IRIS_MODEL}/infer",
        json={"id": "py-1", "inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape), "data": x.tolist()}]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == IRIS_MODEL and body["id"] == "py-1"
    outputs = {o["name"]: o for o in body["outputs"]}
    proba = np.asarray(outputs["predict_proba"]["data"], dtype=np.float32).reshape(outputs["predict_proba"]["shape"])
    np.testing.assert_array_equal(proba, grpc_proba(address, x))
    assert outputs["predict"]["datatype"] == "INT64"


def test_httpx_async_infer_equals_grpc(http_address: str, address: str, iris_model: XgboostTrainReport, data: Path) -> None:
    """httpx's asyncio client: concurrent requests on one connection pool, each the same as gRPC."""
    x = iris_x(data)[:20]

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=f"http://{http_address}", timeout=30) as client:
            assert (await client.get("/v2/health/ready")).json() == {"ready": True}
            return await asyncio.gather(
                *(
                    client.post(
                        f"/v2/models/{IRIS_MODEL}/infer",
                        json={"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": row.tolist()}], "outputs": [{"name": "predict_proba"}]},
                    )
                    for row in x
                )
            )

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * len(x)
    proba = np.asarray([r.json()["outputs"][0]["data"] for r in responses], dtype=np.float32)
    np.testing.assert_array_equal(proba, grpc_proba(address, x))


def test_tritonclient_http_binary_by_default(triton_http: tc_http.InferenceServerClient, address: str, iris_model: XgboostTrainReport, data: Path) -> None:
    """Triton's HTTP client as its users call it: binary tensors both ways (its default)."""
    x = iris_x(data)
    inp = tc_http.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)  # binary_data=True by default
    res = triton_http.infer(IRIS_MODEL, [inp])  # no outputs named: all of them, as binary
    assert res.get_output("predict_proba")["parameters"]["binary_data_size"] == x.shape[0] * 3 * 4
    np.testing.assert_array_equal(res.as_numpy("predict_proba"), grpc_proba(address, x))
    assert res.as_numpy("predict").dtype == np.int64 and res.as_numpy("predict").shape == (150,)


def test_tritonclient_http(triton_http: tc_http.InferenceServerClient, address: str, iris_model: XgboostTrainReport, data: Path) -> None:
    """Triton's HTTP client, JSON tensors (binary_data=False)."""
    assert triton_http.is_server_live() and triton_http.is_server_ready()
    assert triton_http.is_model_ready(IRIS_MODEL)
    meta = triton_http.get_model_metadata(IRIS_MODEL)
    assert meta["name"] == IRIS_MODEL and [i["name"] for i in meta["inputs"]] == ["input"]
    x = iris_x(data)
    inp = tc_http.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    out = [tc_http.InferRequestedOutput("predict_proba", binary_data=False), tc_http.InferRequestedOutput("predict", binary_data=False)]
    res = triton_http.infer(IRIS_MODEL, [inp], outputs=out)
    np.testing.assert_array_equal(res.as_numpy("predict_proba").astype(np.float32), grpc_proba(address, x))
    assert res.as_numpy("predict").shape == (150,)
    assert triton_http.get_model_repository_index()


def test_http_errors(http_address: str, iris_model: XgboostTrainReport, triton_http: tc_http.InferenceServerClient) -> None:
    base = f"http://{http_address}"
    r = requests.post(f"{base}/v2/models/{IRIS_MODEL}/infer", data="{oops", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"].startswith("the request body is not valid JSON")
    r = requests.get(f"{base}/v2/models/missing", timeout=30)
    assert r.status_code == 404 and "model 'missing' not found" in r.json()["error"]
    with pytest.raises(InferenceServerException, match="expects 4 features per row, got 3"):
        inp = tc_http.InferInput("input", [1, 3], "FP32")
        inp.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
        triton_http.infer(IRIS_MODEL, [inp])
    assert requests.get(f"{base}/v2/health/ready", timeout=30).status_code == 200
