"""TextService through client.text."""

from __future__ import annotations

from mlbridge import Client


def test_count_words(client: Client) -> None:
    assert client.text.count_words("the cat and the hat, the end") == {"the": 3, "cat": 1, "and": 1, "hat": 1, "end": 1}
    # Case-sensitive, Unicode words, underscores and digits are word characters.
    assert client.text.count_words("Straße straße snake_case 42 42") == {"Straße": 1, "straße": 1, "snake_case": 1, "42": 2}


def test_count_words_stream_splits_anywhere(client: Client) -> None:
    text = "héllo wörld héllo " * 3
    data = text.encode("utf-8")
    cut = data.index("é".encode()) + 1  # in the middle of a two-byte character
    res = client.text.count_words_stream([data[:cut], data[cut : cut + 5], data[cut + 5 :]])
    assert res.counts == {"héllo": 6, "wörld": 3}
    assert res.total_words == 9 and res.total_bytes == len(data)


def test_count_words_stream_large_str_is_chunked(client: Client) -> None:
    text = "word " * 500_000  # 2.5 MB: more than one 1 MiB message
    res = client.text.count_words_stream(iter([text, "tail"]))
    assert res.counts == {"word": 500_000, "tail": 1}
    assert res.total_bytes == len(text) + 4
