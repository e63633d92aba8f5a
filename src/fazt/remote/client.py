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
    ):
        super().__init__(message)
        self.status, self.code = status, code
        # True when no HTTP answer came back at all (refused, DNS, timeout, TLS).
        self.unreachable = unreachable


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
            )
        raise ApiError(
            f"{self.url}: {method} {path} answered {response.status_code} without a fazt "
            "JSON body (is this a fazt server?)",
            response.status_code,
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
