import pytest

from fazt.web.http import peer_ip


@pytest.mark.parametrize(
    ("client", "ip"),
    [
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[::1]:5678", "::1"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("", ""),
    ],
)
def test_peer_ip_drops_the_port(client, ip):
    assert peer_ip(client) == ip


class _Proto:
    """Records what `respond` asked Granian's protocol to send."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def response_empty(self, status, headers):
        self.sent.append(("empty", status, headers))

    def response_bytes(self, status, headers, body):
        self.sent.append(("bytes", status, headers, body))

    def response_file(self, status, headers, path):
        self.sent.append(("file", status, headers, path))


def _respond(response, head):
    import asyncio

    from fazt.web.http import respond

    proto = _Proto()
    asyncio.run(respond(proto, response, head))
    return proto.sent


def test_head_of_a_file_keeps_its_one_content_length():
    from fazt.web.http import Response

    headers = [("content-length", "1234")]
    assert _respond(Response(200, b"", list(headers), file="/x"), head=True) == [
        ("empty", 200, headers)
    ]
    assert _respond(Response(200, b"", list(headers), file="/x"), head=False) == [
        ("file", 200, headers, "/x")
    ]


def test_head_of_bytes_says_their_length_and_none_means_no_body():
    from fazt.web.http import Response

    assert _respond(Response(200, b"abc", []), head=True) == [
        ("empty", 200, [("content-length", "3")])
    ]
    assert _respond(Response(304, None, [("etag", '"e"')]), head=False) == [
        ("empty", 304, [("etag", '"e"')])
    ]
