"""A small client for a fazt server's JSON API, with errors that say what went wrong."""

import time
from typing import Any

import httpx


class ApiError(Exception):
    """A failed API call; `str()` names the server, the call and the reason."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        *,
        unreachable: bool = False,
        url: str | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.url = status, code, url
        # True when no HTTP answer came back at all (refused, DNS, timeout, TLS).
        self.unreachable = unreachable

    def next_step(self, source: str) -> str:
        """What to do about a server that does not answer or refuses the token from
        `source` (e.g. "--token", "saved peer 'prod'"); "" for any other failure."""
        url = self.url or "the server's URL"
        if self.unreachable:
            return (
                f"\n  next: nothing answers at {url}. If it is this machine's server, start it "
                "with `fazt server start` (and check `fazt server status`); if it is another "
                "server, check its URL with `fazt remote list`."
            )
        if self.status == 401:
            return (
                f"\n  next: the server refused the token from {source}. Make a key on the "
                "server's machine with `fazt key create NAME --scopes deploy --db DATABASE` "
                "(its database, ~/.fazt/data.db by default; `--scopes admin` for keys and "
                "upgrades), then save it with "
                f"`fazt remote add NAME --url {url} --token KEY --replace` (or pass --token KEY)."
            )
        return ""


class FaztClient:
    def __init__(self, url: str, token: str | None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # Loading CA certificates costs ~80 ms per command: only when talking TLS.
        verify = self.url.startswith("https://")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "FaztClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; return the `data` of the envelope or raise ApiError."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"cannot reach {self.url} ({method} {path}): {exc}",
                unreachable=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
                url=self.url,
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and "data" in body:
            return body["data"]
        error = (body or {}).get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise ApiError(
                f"{self.url}: {method} {path} failed ({response.status_code} "
                f"{error.get('code')}): {error.get('message')}",
                response.status_code,
                error.get("code"),
                url=self.url,
            )
        raise ApiError(
            f"{self.url}: {method} {path} answered {response.status_code} without a fazt "
            "JSON body (is this a fazt server?)",
            response.status_code,
            url=self.url,
        )

    def health(self) -> tuple[dict, float]:
        """GET /health (public): its data and the round trip in milliseconds."""
        started = time.perf_counter()
        data = self.request("GET", "/health")
        return data, (time.perf_counter() - started) * 1000

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)
