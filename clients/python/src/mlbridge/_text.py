"""TextService: the book's word count."""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, Union

from mlbridge._data import WordCount
from mlbridge._files import CHUNK_SIZE
from mlbridge._proto.mlbridge.v1 import text_service_pb2 as text_pb
from mlbridge._rpc import Rpc

__all__ = ["TextClient"]


class TextClient:
    """Text utilities: ``client.text``."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc

    def count_words(self, text: str) -> Dict[str, int]:
        """Counts the words of ``text`` (TextService.CountWords): word → count.

        Words are maximal runs of letters, marks, digits and connector punctuation
        (``\\w+``), case-sensitive. Empty text raises InvalidInputError.
        """
        resp = self._rpc.unary(self._rpc.text.CountWords, text_pb.CountWordsRequest(text=text))
        return dict(resp.counts)

    def count_words_stream(self, chunks: Iterable[Union[str, bytes]]) -> WordCount:
        """Counts the words of a text sent in pieces (TextService.CountWordsStream).

        ``chunks`` yields str (sent as UTF-8) or UTF-8 bytes; pieces may split
        words and characters anywhere. Returns counts, total words and bytes.
        """

        resp = self._rpc.stream_unary(self._rpc.text.CountWordsStream, count_words_requests(chunks))
        return WordCount.from_proto(resp)


def count_words_requests(chunks: Iterable[Union[str, bytes]]) -> Iterator[text_pb.CountWordsStreamRequest]:
    """The messages of TextService.CountWordsStream: the text's UTF-8 bytes in pieces of at most CHUNK_SIZE."""
    for c in chunks:
        data = c.encode("utf-8") if isinstance(c, str) else bytes(c)
        for i in range(0, len(data), CHUNK_SIZE):
            yield text_pb.CountWordsStreamRequest(chunk=data[i : i + CHUNK_SIZE])
