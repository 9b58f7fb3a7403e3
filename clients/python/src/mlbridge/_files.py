"""Local files for upload: opened before any call (a missing file fails at once), read in chunks."""

from __future__ import annotations

import os
from typing import IO, Iterator, TypeVar, Union

#: Upload chunk size: 1 MiB per message.
CHUNK_SIZE = 1024 * 1024

PathLike = Union[str, "os.PathLike[str]"]


def open_local(path: PathLike) -> IO[bytes]:
    """Opens a local file for upload; FileNotFoundError (before any call) when it is missing."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(2, "No such file or directory", p)
    if os.path.isdir(p):
        raise IsADirectoryError(21, "Is a directory", p)
    return open(p, "rb")


def read_local(path: PathLike) -> bytes:
    with open_local(path) as f:
        return f.read()


def chunks(f: IO[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while True:
        b = f.read(size)
        if not b:
            return
        yield b


T = TypeVar("T")


def then(first: T, rest: Iterator[T]) -> Iterator[T]:
    """`first`, then what `rest` yields (a streaming call's header and data)."""
    yield first
    yield from rest


def closing_chunks(f: IO[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The chunks of an open file, closing it when done (or when the stream is dropped)."""
    with f:
        yield from chunks(f, size)
