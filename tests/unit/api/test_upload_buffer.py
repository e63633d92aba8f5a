"""The upload body buffer: pieces are the body's bytes, cut exactly, whatever the chunking."""

import os

from fazt.api.uploads import _Buffer


def test_pieces_are_the_bytes_in_order_cut_at_exact_sizes() -> None:
    body = os.urandom(10_000)
    buffer, pieces, at = _Buffer(), [], 0
    for size in (1, 999, 3000, 7, 2500, 3493):  # chunks that straddle the piece size
        buffer.add(body[at : at + size])
        at += size
        while buffer.size >= 4096:
            pieces.append(buffer.take(4096))
    pieces.append(buffer.take(buffer.size))
    assert [len(p) for p in pieces] == [4096, 4096, 1808]
    assert b"".join(pieces) == body
    assert buffer.size == 0 and buffer.parts == []


def test_a_chunk_bigger_than_several_pieces_is_cut_into_all_of_them() -> None:
    buffer = _Buffer()
    buffer.add(b"a" * 10 + b"b" * 10 + b"c" * 5)
    assert [buffer.take(10), buffer.take(10), buffer.take(5)] == [b"a" * 10, b"b" * 10, b"c" * 5]
