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
