"""`fazt.net.fetch`: outbound HTTP from an app's JavaScript, in its JS worker process.

One call, synchronous (the worker runs one request at a time, so one fetch at a time):
1. the budget: one more fetch of this app this minute, counted in SQLite before anything
   else, so that the worker processes share it;
2. the URL and every redirect (followed here, at most MAX_REDIRECTS) checked by
   netpolicy: scheme, port, host spelling, the allowlist, then every address the host
   resolves to; the connection goes to the checked address (the URL names the address,
   the Host header and TLS SNI the name), so a second DNS answer cannot move it;
3. the response read in chunks, stopped past the size limit or the time limit (the
   fetch's, never more than what is left of the request's own);
4. `fazt.secret(NAME)` markers in the URL's path and query, header values and body
   replaced by the app's env var NAME here, when the request is built: the value never
   reaches JavaScript, error messages or logs;
5. one log line for the app's logs: method, host, path without the query, status and
   duration.
"""

import json
import logging
import re
import socket
import time
from typing import Any
from urllib.parse import quote, urljoin

from fazt.db import settings
from fazt.runtime import netpolicy, netrules, store
from fazt.runtime.netpolicy import NetError, Target

MAX_REDIRECTS = 5
MAX_HEADERS = 100
MAX_BODY_CHARS = 10 * 1024 * 1024
SETTINGS_TTL_SECONDS = 2.0
DEADLINE_MARGIN_SECONDS = 0.2  # left to the request to answer after a fetch timed out
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Set by fetch itself; the app may not choose them.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_NONCE = re.compile(r"^[0-9a-f]{16,64}$")

log = logging.getLogger("fazt.runtime.net")
_settings_cache: tuple[float, dict[str, str]] = (0.0, {})
_client: Any = None


def limits(db: Any) -> tuple[int, int, int]:
    """(timeout_ms, max_response_bytes, requests_per_minute) from the settings, cached."""
    global _settings_cache
    now = time.monotonic()
    if _settings_cache[0] <= now:
        _settings_cache = (now + SETTINGS_TTL_SECONDS, db.read_sync(settings.all_settings))
    values = _settings_cache[1]

    def num(key: str, default: int) -> int:
        try:
            return max(0, int(values.get(key, default)))
        except (TypeError, ValueError):
            return default

    return (
        num("net_timeout_ms", 10_000),
        num("net_max_response_bytes", 5 * 1024 * 1024),
        num("net_requests_per_minute", 120),
    )


def client() -> Any:
    """One httpx client per worker process: no proxies from the environment, no
    connection reuse (a kept connection to an address would carry another host's
    requests there, under the first one's certificate)."""
    global _client
    if _client is None:
        _client = make_client()
    return _client


def make_client(verify: Any = True) -> Any:
    """An httpx client as fetch uses it (`verify`: the CA bundle or SSL context)."""
    import httpx  # here: most JS workers never fetch, and they start faster without it

    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        verify=verify,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class Secrets:
    """`fazt.secret(NAME)` markers of one fetch, replaced by the app's env values."""

    def __init__(self, db: Any, app: str, nonce: str) -> None:
        self.db = db
        self.app = app
        name = r":([A-Za-z_][A-Za-z0-9_]*)"
        self.marker = re.compile(r"\{\{fazt-secret:" + nonce + name + r"\}\}")
        # In a URL, parse_url has percent-encoded the braces.
        self.url_marker = re.compile("%7B%7Bfazt-secret:" + nonce + name + "%7D%7D")
        self.used: dict[str, str] = {}  # name -> value, to redact them from messages
        self._env: dict[str, str] | None = None

    def resolve(self, text: str) -> str:
        if "{{fazt-secret:" not in text:
            return text
        return self.marker.sub(self._value, text)

    def resolve_url(self, url: str) -> str:
        """A URL with its markers replaced by the percent-encoded values."""
        if "%7B%7Bfazt-secret:" not in url:
            return url
        return self.url_marker.sub(lambda m: quote(self._value(m), safe=""), url)

    def _value(self, match: re.Match) -> str:
        name = match.group(1)
        if self._env is None:
            self._env = self.db.read_sync(store.all_env_values, self.app)
        if name not in self._env:
            raise NetError(f"fetch: the app has no env var {name} for fazt.secret('{name}')")
        self.used[name] = self._env[name]
        return self._env[name]

    def redact(self, text: str) -> str:
        for name, value in self.used.items():
            for spelling in {value, quote(value, safe="")}:
                if spelling:
                    text = text.replace(spelling, f"[secret {name}]")
        return text


class AppNet:
    """fazt.net for one request of one app (deployment `deployment_id`)."""

    def __init__(self, db: Any, app: str, deployment_id: int, deadline: float) -> None:
        self.db = db
        self.app = app
        self.deployment_id = deployment_id
        self.deadline = deadline  # the request's, in time.monotonic() seconds
        self.resolve = socket.getaddrinfo  # tests may swap in their own resolver

    def fetch(self, url: Any, options_json: Any, nonce: Any) -> str:
        """JSON text: {status, headers, body, url, log} or {error, log}."""
        started = time.monotonic()
        shown = "?"
        method = "GET"
        secrets = Secrets(self.db, self.app, nonce if _NONCE.match(str(nonce)) else "-")
        try:
            options = _options(options_json)
            method = options["method"]
            target = netpolicy.parse_url(url)
            shown = target.shown()
            result = self._fetch(target, options, secrets)
            shown = result.pop("shown")
            line = f"fetch {method} {shown} -> {result['status']} ({_ms(started)} ms)"
            return json.dumps({**result, "log": secrets.redact(line)})
        except Exception as exc:
            if isinstance(exc, NetError):
                message = secrets.redact(str(exc))
            else:  # a bug: its text might quote a secret, so only its type is told
                log.error("fetch of app %s failed: %s", self.app, type(exc).__name__)
                message = "fetch: internal error"
            line = f"fetch {method} {shown} -> failed: {message} ({_ms(started)} ms)"
            return json.dumps({"error": message, "log": secrets.redact(line)})

    def _fetch(self, target: Target, options: dict, secrets: Secrets) -> dict:
        timeout_ms, max_bytes, per_minute = limits(self.db)
        if per_minute and self._counted(per_minute) > per_minute:
            raise NetError(f"fetch: the app's budget of {per_minute} requests a minute is used up")
        client()  # the first fetch of a worker imports httpx: not counted in its time limit
        wanted = options["timeout_ms"] or timeout_ms
        ends = min(
            time.monotonic() + min(wanted, timeout_ms) / 1000,
            self.deadline - DEADLINE_MARGIN_SECONDS,
        )
        allow, deny = self.db.read_sync(netrules.effective_rules, self.app, self.deployment_id)
        loopback = netpolicy.escape_loopback_ports()
        method, body = options["method"], options["body"]
        headers = dict(options["headers"])
        for hop in range(MAX_REDIRECTS + 1):
            if not netpolicy.is_allowed(allow, deny, target.host, target.port):
                raise NetError(
                    f"fetch: {target.host_header} is not on the app's net allowlist "
                    '(manifest.json "net": {"allow": [...]} or fazt app net allow)'
                )
            address = self._address(target, loopback)
            response = self._send(target, address, method, headers, body, secrets, ends, max_bytes)
            location = response["location"]
            if response["status"] not in REDIRECTS or location is None:
                return _result(response, target, hop > 0)
            if hop == MAX_REDIRECTS:
                raise NetError(f"fetch: more than {MAX_REDIRECTS} redirects")
            following = netpolicy.parse_url(urljoin(target.url(), location))
            if response["status"] == 303 or (response["status"] in (301, 302) and method == "POST"):
                method, body = "GET", None
            if (following.host, following.port, following.scheme) != (
                target.host,
                target.port,
                target.scheme,
            ):
                headers = _same_origin_only(headers)
            target = following
        raise AssertionError("unreachable")

    def _counted(self, per_minute: int) -> int:
        """This fetch counted in the app's minute (shared by the worker processes)."""
        return self.db.write_sync(netrules.count_call, self.app, int(time.time() // 60))

    def _address(self, target: Target, loopback: frozenset[int]) -> netpolicy.IPAddress:
        """The one address to connect to, after checking every address the name has."""
        if target.literal is not None:
            netpolicy.check_address(target.literal, target.port, loopback)
            return target.literal
        try:
            infos = self.resolve(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise NetError(f"fetch: cannot resolve {target.host}") from None
        addresses = []
        for info in infos:
            try:
                addresses.append(netpolicy.ipaddress.ip_address(info[4][0]))
            except ValueError:  # a scoped IPv6 address (fe80::1%eth0) is link-local anyway
                raise NetError(f"fetch: {target.host} resolves to a link-local address") from None
        if not addresses:
            raise NetError(f"fetch: cannot resolve {target.host}")
        for address in addresses:  # one bad answer is enough: no mixing of good and bad
            netpolicy.check_address(address, target.port, loopback)
        return addresses[0]

    def _send(
        self,
        target: Target,
        address: netpolicy.IPAddress,
        method: str,
        headers: dict[str, str],
        body: str | None,
        secrets: Secrets,
        ends: float,
        max_bytes: int,
    ) -> dict:
        import httpx

        left = ends - time.monotonic()
        if left <= 0:
            raise NetError("fetch: timed out")
        sent = {k: _header_value(k, secrets.resolve(v)) for k, v in headers.items()}
        sent["host"] = target.host_header
        sent.setdefault("accept-encoding", "identity")  # no decompression bombs
        content = secrets.resolve(body).encode("utf-8") if body is not None else None
        url = secrets.resolve_url(target.url_for(address))
        try:
            request = client().build_request(
                method,
                url,
                headers=sent,
                content=content,
                timeout=httpx.Timeout(left),
                extensions={"sni_hostname": target.host},
            )
            response = client().send(request, stream=True)
            try:
                data = _read(response, ends, max_bytes)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise NetError("fetch: timed out") from None
        except httpx.HTTPError as exc:
            raise NetError(f"fetch: {type(exc).__name__}: {secrets.redact(str(exc))}") from None
        return {
            "status": response.status_code,
            "headers": response.headers,
            "location": response.headers.get("location"),
            "data": data,
        }


def _read(response: Any, ends: float, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise NetError(f"fetch: the response is larger than {max_bytes} bytes")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise NetError(f"fetch: the response is larger than {max_bytes} bytes")
        if time.monotonic() > ends:
            raise NetError("fetch: timed out")
        chunks.append(chunk)
    return b"".join(chunks)


def _result(response: dict, target: Target, redirected: bool) -> dict:
    headers: dict[str, str] = {}
    for name, value in response["headers"].multi_items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {
        "status": response["status"],
        "headers": headers,
        "body": response["data"].decode("utf-8", "replace"),
        "url": target.url(),
        "redirected": redirected,
        "shown": target.shown(),
    }


def _same_origin_only(headers: dict[str, str]) -> dict[str, str]:
    """What a redirect to another origin keeps: no credentials, no secrets."""
    return {
        k: v
        for k, v in headers.items()
        if k not in ("authorization", "cookie", "proxy-authorization") and "{{fazt-secret:" not in v
    }


def _header_value(name: str, value: str) -> str:
    """A header value as it will be sent (checked after secrets are put in: the message
    never quotes it)."""
    if any(c in value for c in "\r\n\0"):
        raise NetError(f"fetch: the value of header {name!r} contains a line break")
    if not value.isascii():
        raise NetError(f"fetch: the value of header {name!r} is not ASCII (encode it first)")
    return value


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _options(options_json: Any) -> dict:
    """The fetch options from JavaScript, checked: method, headers, body, timeout_ms."""
    try:
        raw = json.loads(options_json) if options_json else {}
    except (TypeError, ValueError):
        raise NetError("fetch: options must be an object") from None
    if not isinstance(raw, dict):
        raise NetError("fetch: options must be an object")
    method = raw.get("method") or "GET"
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise NetError(f"fetch: method must be one of {', '.join(sorted(METHODS))}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise NetError(f"fetch: headers must be an object of at most {MAX_HEADERS} strings")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _TOKEN.match(name) or not isinstance(value, str):
            raise NetError(f"fetch: invalid header {name[:80]!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise NetError(f"fetch: the {name} header is set by fetch itself")
        checked[name.lower()] = value
    body = raw.get("body")
    if body is not None and (not isinstance(body, str) or len(body) > MAX_BODY_CHARS):
        raise NetError(f"fetch: body must be a string of at most {MAX_BODY_CHARS} characters")
    timeout = raw.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise NetError("fetch: timeout must be a positive number of milliseconds")
    return {
        "method": method.upper(),
        "headers": checked,
        "body": body,
        "timeout_ms": int(timeout) if timeout else 0,
    }
