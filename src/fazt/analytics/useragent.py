"""A tiny User-Agent parser: browser, OS and device families, nothing finer."""

import functools

BOT = "Bot"
# Substrings of (lower-cased) user agents that are robots, crawlers or HTTP libraries.
_BOT_MARKERS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "curl/",
    "wget/",
    "python-",
    "httpx",
    "go-http-client",
    "java/",
    "facebookexternalhit",
)
# (marker, family), first match wins: the order matters (Edge and Opera say "Chrome" too,
# Chrome says "Safari").
_BROWSERS = (
    ("edg/", "Edge"),
    ("edga/", "Edge"),
    ("edgios/", "Edge"),
    ("opr/", "Opera"),
    ("opera", "Opera"),
    ("samsungbrowser/", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios/", "Firefox"),
    ("chromium/", "Chromium"),
    ("chrome/", "Chrome"),
    ("crios/", "Chrome"),
    ("safari/", "Safari"),
)
_SYSTEMS = (
    ("windows", "Windows"),
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iOS"),
    ("ipod", "iOS"),
    ("cros", "ChromeOS"),
    ("mac os x", "macOS"),
    ("macintosh", "macOS"),
    ("linux", "Linux"),
)


@functools.lru_cache(maxsize=2048)  # real traffic repeats a few hundred strings
def parse(user_agent: str | None) -> tuple[str, str, str]:
    """(browser, os, device) families; ("Bot", "Bot", "Bot") for robots; "Other" if unknown."""
    ua = (user_agent or "").lower()
    if not ua or any(marker in ua for marker in _BOT_MARKERS):
        return BOT, BOT, BOT
    browser = next((name for marker, name in _BROWSERS if marker in ua), "Other")
    system = next((name for marker, name in _SYSTEMS if marker in ua), "Other")
    if "ipad" in ua or "tablet" in ua or (system == "Android" and "mobile" not in ua):
        device = "Tablet"
    elif "mobi" in ua or "iphone" in ua or "ipod" in ua or system == "Android":
        device = "Mobile"
    else:
        device = "Desktop"
    return browser, system, device
