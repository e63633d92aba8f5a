import pytest

from fazt.analytics.useragent import parse

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_MAC, ("Chrome", "macOS", "Desktop")),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            ("Edge", "Windows", "Desktop"),
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            ("Firefox", "Linux", "Desktop"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            ("Safari", "iOS", "Mobile"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            ("Safari", "iOS", "Tablet"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Mobile Safari/537.36",
            ("Chrome", "Android", "Mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/24.0 Chrome/115.0.0.0 Safari/537.36",
            ("Samsung Internet", "Android", "Tablet"),
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/130.0.0.0 Safari/537.36",
            ("Chrome", "Linux", "Desktop"),
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1)", ("Bot", "Bot", "Bot")),
        ("curl/8.5.0", ("Bot", "Bot", "Bot")),
        ("python-httpx/0.27.0", ("Bot", "Bot", "Bot")),
        ("", ("Bot", "Bot", "Bot")),
        ("SomethingElse/1.0", ("Other", "Other", "Desktop")),
    ],
)
def test_families(ua, expected):
    assert parse(ua) == expected
