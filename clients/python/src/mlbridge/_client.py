"""The mlbridge client: one gRPC channel, four services."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

import grpc

from mlbridge._crf import CrfClient
from mlbridge._models import ModelsClient
from mlbridge._rpc import Rpc
from mlbridge._text import TextClient
from mlbridge._xgb import XgboostClient

__all__ = ["Client", "DEFAULT_ADDRESS"]

#: Address used when none is given and MLBRIDGE_ADDRESS is not set.
DEFAULT_ADDRESS = "localhost:50051"
#: Largest message sent or received: the server's default limit.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Certificates = Union[bytes, str, "os.PathLike[str]"]


def _pem(value: Optional[Certificates]) -> Optional[bytes]:
    """PEM bytes from bytes, PEM text, or a path to a PEM file."""
    if value is None or isinstance(value, bytes):
        return value
    text = os.fspath(value)
    if text.lstrip().startswith("-----BEGIN"):
        return text.encode("ascii")
    with open(text, "rb") as f:
        return f.read()


class Connection(NamedTuple):
    """What a client (synchronous or asyncio) opens its channel with."""

    address: str
    credentials: Optional[grpc.ChannelCredentials]
    options: List[Tuple[str, Union[str, int]]]
    metadata: Tuple[Tuple[str, str], ...]


def connection(
    address: Optional[str],
    tls: bool,
    root_certificates: Optional[Certificates],
    token: Optional[str],
    options: Sequence[Tuple[str, Union[str, int]]],
) -> Connection:
    """The address (default ``MLBRIDGE_ADDRESS``, else localhost:50051), TLS credentials when
    asked, channel options and the token's metadata (default ``MLBRIDGE_TOKEN``)."""
    address = address or os.environ.get("MLBRIDGE_ADDRESS") or DEFAULT_ADDRESS
    if token is None:
        token = os.environ.get("MLBRIDGE_TOKEN") or None
    creds = grpc.ssl_channel_credentials(root_certificates=_pem(root_certificates)) if tls or root_certificates is not None else None
    channel_options: List[Tuple[str, Union[str, int]]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        *options,
    ]
    metadata: Tuple[Tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
    return Connection(address, creds, channel_options, metadata)


class Client:
    """A connection to an mlbridge server.

    >>> with Client("localhost:50051") as client:
    ...     report = client.crf.train("ner", "data/ner.csv", feature_preset="book")
    ...     client.crf.predict("ner", "data/ner_predict.csv")

    ``address`` is ``host:port``; default the environment variable
    ``MLBRIDGE_ADDRESS``, else ``localhost:50051``. ``tls`` uses TLS with the
    system's roots, or with ``root_certificates`` (PEM bytes, PEM text or a
    file path; giving them implies ``tls``). ``token`` is sent as
    ``authorization: Bearer <token>`` on every call (default: the environment
    variable ``MLBRIDGE_TOKEN``). ``timeout`` is every call's deadline in
    seconds (None: no deadline). The channel connects lazily: a server that is
    down shows as :class:`~mlbridge.errors.ServerUnavailableError` on the first call.

    Services: :attr:`crf` (CRFsuite taggers), :attr:`xgboost` (XGBoost boosters),
    :attr:`text` (word count), :attr:`models` (the model store).
    """

    crf: CrfClient
    xgboost: XgboostClient
    text: TextClient
    models: ModelsClient

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        tls: bool = False,
        root_certificates: Optional[Certificates] = None,
        token: Optional[str] = None,
        timeout: Optional[float] = None,
        options: Sequence[Tuple[str, Union[str, int]]] = (),
    ) -> None:
        c = connection(address, tls, root_certificates, token, options)
        self.address = c.address
        if c.credentials is not None:
            channel = grpc.secure_channel(c.address, c.credentials, options=c.options)
        else:
            channel = grpc.insecure_channel(c.address, options=c.options)
        self._channel = channel
        rpc = Rpc(channel, c.address, c.metadata, timeout)
        self.crf = CrfClient(rpc)
        self.xgboost = XgboostClient(rpc)
        self.text = TextClient(rpc)
        self.models = ModelsClient(rpc)

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __deepcopy__(self, memo: Dict[int, Any]) -> Client:
        """A client is a connection: a deep copy shares it instead of opening another. So an
        estimator of :mod:`mlbridge.sklearn` given ``client=Client(...)`` survives
        ``sklearn.base.clone`` (which deep-copies parameters) with the same connection."""
        return self

    def __getstate__(self) -> Dict[str, Any]:
        raise TypeError(
            "an mlbridge.Client is a connection and cannot be pickled; to send estimators to other processes "
            "(GridSearchCV(n_jobs=...)) give them client=None ($MLBRIDGE_ADDRESS) or an address string"
        )

    def __repr__(self) -> str:
        return f"Client({self.address!r})"
