"""Every error class, raised from real failures (and the status-code mapping itself)."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from conftest import IRIS_MODEL, NER_MODEL, ServerProcess, start_server
from mlbridge import (
    AuthenticationError,
    CancelledError,
    Client,
    CrfTrainReport,
    DeadlineExceededError,
    InvalidInputError,
    MlBridgeError,
    ModelExistsError,
    ModelNotFoundError,
    ResourceExhaustedError,
    ServerUnavailableError,
    XgboostTrainReport,
)
from mlbridge.errors import from_rpc_error

NER_HEADER = ",lemma,next-lemma,next-next-lemma,next-next-pos,next-next-shape,next-next-word,next-pos,next-shape,next-word,pos,prev-iob,prev-lemma,prev-pos,prev-prev-iob,prev-prev-lemma,prev-prev-pos,prev-prev-shape,prev-prev-word,prev-shape,prev-word,sentence_idx,shape,word,tag"


def formatted(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def test_server_down_is_unavailable(closed_address: str) -> None:
    with Client(closed_address, timeout=10) as c:
        with pytest.raises(ServerUnavailableError) as info:
            c.models.list()
    e = info.value
    assert e.code is grpc.StatusCode.UNAVAILABLE
    assert closed_address in e.message
    # Raised `from None`: no raw gRPC error in the traceback.
    assert e.__cause__ is None and e.__suppress_context__
    assert "_InactiveRpcError" not in formatted(e)


def test_server_down_streaming_calls(closed_address: str, data: Path) -> None:
    with Client(closed_address, timeout=10) as c:
        with pytest.raises(ServerUnavailableError):
            c.crf.train("x", data / "ner.csv")
        with pytest.raises(ServerUnavailableError):
            c.models.import_model("x", data / "ner.csv", "crf")
        with pytest.raises(ServerUnavailableError):
            c.text.count_words_stream(["a b"])


def test_missing_local_file_fails_before_any_call(closed_address: str, tmp_path: Path) -> None:
    """FileNotFoundError, not ServerUnavailableError: nothing was sent."""
    missing = tmp_path / "nope.csv"
    with Client(closed_address) as c:
        with pytest.raises(FileNotFoundError, match="nope.csv"):
            c.crf.train("x", missing)
        with pytest.raises(FileNotFoundError):
            c.crf.predict("x", missing)
        with pytest.raises(FileNotFoundError):
            c.xgboost.train("x", missing)
        with pytest.raises(FileNotFoundError):
            c.xgboost.predict("x", csv_path=missing)
        with pytest.raises(FileNotFoundError):
            c.models.import_model("x", missing, "crf")


def test_model_not_found(client: Client, data: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        client.crf.predict("no-such-model", data / "ner_predict.csv")
    assert info.value.code is grpc.StatusCode.NOT_FOUND
    assert str(info.value) == "model 'no-such-model' not found"
    assert isinstance(info.value, LookupError)
    with pytest.raises(ModelNotFoundError):
        client.models.get("no-such-model")
    with pytest.raises(ModelNotFoundError):
        client.xgboost.predict("no-such-model", [[1.0]])


def test_malformed_csv_names_the_line(client: Client, tmp_path: Path) -> None:
    good = "0,thousand,of,demonstr,NNS,lowercase,demonstrators,IN,lowercase,of,NNS,__START1__,__start1__,__START1__,__START2__,__start2__,__START2__,wildcard,__START2__,wildcard,__START1__,1,capitalized,Thousands,O"
    bad = "1,of,demonstr,have"  # line 3: too few columns
    path = tmp_path / "bad.csv"
    path.write_text(f"{NER_HEADER}\n{good}\n{bad}\n{good}\n")
    with pytest.raises(InvalidInputError) as info:
        client.crf.train("crf-malformed", path, feature_preset="book")
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "line 3" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ModelNotFoundError):
        client.models.get("crf-malformed")


def test_missing_column_names_the_column(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "nolemma.csv"
    path.write_text("sentence_idx,word,tag\n1,London,B-geo\n")
    with pytest.raises(InvalidInputError, match="lemma"):
        client.crf.train("crf-nolemma", path, feature_preset="book")


def test_invalid_model_name_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="model_name"):
        client.crf.tag("bad name!", [[["a"]]])
    with pytest.raises(InvalidInputError, match="name"):
        client.models.get(".hidden")


def test_wrong_model_kind_is_failed_precondition(client: Client, iris_model: XgboostTrainReport, data: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.crf.predict(IRIS_MODEL, data / "ner_predict.csv")
    assert info.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert IRIS_MODEL in str(info.value)


def test_model_exists(client: Client, ner_model: CrfTrainReport, data: Path) -> None:
    with pytest.raises(ModelExistsError) as info:
        client.crf.train(NER_MODEL, data / "ner.csv", feature_preset="book", fail_if_exists=True)
    assert info.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert NER_MODEL in str(info.value)
    # The stored model is untouched.
    assert client.models.get(NER_MODEL).sha256 == ner_model.model.sha256


def test_deadline_exceeded(address: str, data: Path) -> None:
    with Client(address, timeout=0.2) as c:
        with pytest.raises(DeadlineExceededError) as info:
            c.crf.train("crf-deadline", data / "ner.csv", feature_preset="rich", parameters={"max_iterations": 500})
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    with Client(address) as c:
        with pytest.raises(ModelNotFoundError):
            c.models.get("crf-deadline")


def test_empty_text_is_invalid(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="Empty input string"):
        client.text.count_words("")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server: bearer token required, and a 64 KiB upload limit."""
    srv = start_server(tmp_path_factory.mktemp("secured"), "--auth-token", "s3cret-token", "--max-upload-bytes", "65536")
    yield srv
    assert srv.stop() == 0, srv.log()[-4000:]


def test_auth_required(secured: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLBRIDGE_TOKEN", raising=False)
    with Client(secured.address) as c:
        with pytest.raises(AuthenticationError) as info:
            c.models.list()
    assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert "bearer token" in str(info.value)
    with Client(secured.address, token="wrong") as c:
        with pytest.raises(AuthenticationError, match="invalid bearer token"):
            c.text.count_words("a b")
        with pytest.raises(AuthenticationError):
            list(c.crf.tag_stream("m", [[[["a"]]]]))


def test_auth_right_token(secured: ServerProcess, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Client(secured.address, token="s3cret-token") as c:
        assert c.text.count_words("a b a") == {"a": 2, "b": 1}
        assert c.models.list() == []
        # With auth and a small upload limit: the iris CSV (3.9 KB) fits...
        report = c.xgboost.train("iris", data / "iris.csv", preset="iris")
        assert report.model.name == "iris"
        # ...the NER CSV (1.6 MB) does not.
        with pytest.raises(ResourceExhaustedError) as info:
            c.crf.train("ner", data / "ner.csv", feature_preset="book")
        assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "65536" in str(info.value)
    # The token can come from the environment.
    monkeypatch.setenv("MLBRIDGE_TOKEN", "s3cret-token")
    with Client(secured.address) as c:
        assert [m.name for m in c.models.list()] == ["iris"]


def test_cancelled(client: Client, ner_model: CrfTrainReport) -> None:
    def batches() -> Iterator[object]:
        while True:
            yield [[["london"]]]

    stream = client.crf.tag_stream(NER_MODEL, batches())
    next(stream)
    stream.cancel()
    with pytest.raises(CancelledError) as info:
        while True:
            next(stream)
    assert info.value.code is grpc.StatusCode.CANCELLED


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


#: The status -> error class table both clients implement (clients/errors.json).
_TABLE = {k: v for k, v in json.loads((Path(__file__).resolve().parents[2] / "errors.json").read_text()).items() if not k.startswith("//")}


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK], ids=lambda c: c.name)
def test_status_code_mapping(code: grpc.StatusCode) -> None:
    """Every status code raises the class clients/errors.json names (the Java client is tested against the same file)."""
    e = from_rpc_error(_FakeRpcError(code, "the server's words"))
    assert type(e).__name__ == _TABLE.get(code.name, "MlBridge") + "Error"
    assert e.code is code and e.message == "the server's words" and str(e) == "the server's words"
    assert isinstance(e, MlBridgeError)
    assert code.name in repr(e)
