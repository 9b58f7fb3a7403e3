"""TLS: a server started with --tls-cert/--tls-key, a client trusting its certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from conftest import ServerProcess, start_server
from mlbridge import Client, ServerUnavailableError


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[ServerProcess, Path]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    srv = start_server(d, "--tls-cert", str(cert), "--tls-key", str(key))
    yield srv, cert
    assert srv.stop() == 0


def test_tls_with_root_certificates(tls_server: Tuple[ServerProcess, Path]) -> None:
    srv, cert = tls_server
    for roots in (cert, str(cert), cert.read_bytes(), cert.read_text()):
        with Client(srv.address, root_certificates=roots) as c:  # type: ignore[arg-type]
            assert c.text.count_words("secure words words") == {"secure": 1, "words": 2}


def test_plaintext_client_cannot_talk_to_tls_server(tls_server: Tuple[ServerProcess, Path]) -> None:
    srv, _ = tls_server
    with Client(srv.address, timeout=10) as c:
        with pytest.raises(ServerUnavailableError):
            c.text.count_words("a")


def test_untrusted_certificate_is_refused(tls_server: Tuple[ServerProcess, Path]) -> None:
    srv, _ = tls_server
    with Client(srv.address, tls=True, timeout=10) as c:  # system roots: the self-signed cert is unknown
        with pytest.raises(ServerUnavailableError):
            c.text.count_words("a")
