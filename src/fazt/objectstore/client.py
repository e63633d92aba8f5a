"""An S3 client: PUT (streamed; multipart above PART_BYTES), GET (streamed, ranges), HEAD,
DELETE and LIST, signed with fazt.objectstore.sigv4.

Path-style URLs (`<endpoint>/<bucket>/<key>`): what SeaweedFS, MinIO, Garage, R2 and B2
answer, and what AWS S3 still accepts. Synchronous (httpx.Client): callers are the CLI and
threads that already block (SQLite readers, the offload job), never the event loop.

Errors (fazt.objectstore.location, importable without httpx): `NotFound` for a missing
object; `Unavailable` when the store cannot be reached or answers 5xx (retrying later may
work); `S3Error` for any other refusal.
"""

import contextlib
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx

from fazt.objectstore import sigv4
from fazt.objectstore.location import NotFound, S3Error, Unavailable

PART_BYTES = 16 * 1024 * 1024  # a body above this goes up in parts of this size
READ_CHUNK = 1024 * 1024
DEFAULT_REGION = "us-east-1"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class Head:
    size: int
    etag: str
    metadata: dict[str, str]


class S3Client:
    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = DEFAULT_REGION,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = httpx.URL(endpoint.rstrip("/"))
        if self.endpoint.scheme not in ("http", "https") or not self.endpoint.host:
            raise ValueError(f"expected an http(s):// endpoint, got {endpoint!r}")
        self.bucket = bucket
        self._keys = {"access_key": access_key, "secret_key": secret_key, "region": region}
        # trust_env off: no proxy from the environment sees signed requests.
        self._http = httpx.Client(timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    # -- objects ----------------------------------------------------------------------

    def put(
        self,
        key: str,
        body: bytes,
        *,
        sha256: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """One PUT of `body`, its sha256 signed (AWS refuses altered bytes; SeaweedFS does
        not check it, hence fazt reads an offloaded blob back before trusting it)."""
        digest = sha256 or hashlib.sha256(body).hexdigest()
        headers = {"content-length": str(len(body)), **_meta(metadata)}
        self._send("PUT", key, headers=headers, content=body, payload=digest)

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        size: int,
        *,
        metadata: dict[str, str] | None = None,
        part_bytes: int = PART_BYTES,
    ) -> str:
        """Upload `size` bytes from `chunks` (one PUT, or a multipart upload above
        `part_bytes`, holding one part in memory); their sha256."""
        hasher = hashlib.sha256()
        parts = _parts(chunks, part_bytes, hasher)
        if size <= part_bytes:
            body = next(parts, b"")
            if len(body) != size or next(parts, None) is not None:
                raise ValueError(f"expected {size} bytes, got {len(body)}")
            self.put(key, body, metadata=metadata)
            return hasher.hexdigest()
        upload = self._create_multipart(key, metadata)
        try:
            etags, sent = [], 0
            for number, part in enumerate(parts, start=1):
                etags.append(self._upload_part(key, upload, number, part))
                sent += len(part)
            if sent != size:
                raise ValueError(f"expected {size} bytes, got {sent}")
            self._complete_multipart(key, upload, etags)
        except BaseException:
            self._abort_multipart(key, upload)
            raise
        return hasher.hexdigest()

    def get(self, key: str, start: int | None = None, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes [start, end) in pieces (all of it without a range). The
        request is made on the first `next()`; NotFound / Unavailable are raised there."""
        headers = {}
        if start is not None or end is not None:
            last = "" if end is None else str(end - 1)
            headers["range"] = f"bytes={start or 0}-{last}"
        return self._stream(key, headers)

    def read(self, key: str) -> bytes:
        return b"".join(self.get(key))

    def head(self, key: str) -> Head | None:
        try:
            answer = self._send("HEAD", key)
        except NotFound:
            return None
        meta = {
            k[len("x-amz-meta-") :]: v
            for k, v in answer.headers.items()
            if k.lower().startswith("x-amz-meta-")
        }
        size = int(answer.headers.get("content-length", "0"))
        return Head(size, answer.headers.get("etag", "").strip('"'), meta)

    def delete(self, key: str) -> None:
        """Delete (a missing object is not an error: S3 answers 204 either way)."""
        with contextlib.suppress(NotFound):
            self._send("DELETE", key)

    def list_objects(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix`, in key order (ListObjectsV2)."""
        token = None
        while True:
            params = [("list-type", "2"), ("prefix", prefix)]
            if token:
                params.append(("continuation-token", token))
            answer = self._send("GET", None, params=params)
            root = ET.fromstring(answer.content)
            for item in root.iter(f"{_NS}Contents"):
                yield item.findtext(f"{_NS}Key") or "", int(item.findtext(f"{_NS}Size") or 0)
            token = root.findtext(f"{_NS}NextContinuationToken")
            if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return

    # -- multipart --------------------------------------------------------------------

    def _create_multipart(self, key: str, metadata: dict[str, str] | None) -> str:
        answer = self._send("POST", key, params=[("uploads", "")], headers=_meta(metadata))
        upload = ET.fromstring(answer.content).findtext(f"{_NS}UploadId")
        if not upload:
            raise S3Error(answer.status_code, "NoUploadId", "no UploadId in the answer")
        return upload

    def _upload_part(self, key: str, upload: str, number: int, body: bytes) -> str:
        params = [("partNumber", str(number)), ("uploadId", upload)]
        answer = self._send(
            "PUT",
            key,
            params=params,
            headers={"content-length": str(len(body))},
            content=body,
            payload=hashlib.sha256(body).hexdigest(),
        )
        return answer.headers.get("etag", "")

    def _complete_multipart(self, key: str, upload: str, etags: list[str]) -> None:
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            for n, e in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        answer = self._send(
            "POST",
            key,
            params=[("uploadId", upload)],
            headers={"content-length": str(len(body))},
            content=body,
            payload=hashlib.sha256(body).hexdigest(),
        )
        if b"<Error>" in answer.content:  # S3 may answer 200 and fail in the body
            raise S3Error(answer.status_code, "CompleteFailed", answer.text[:200])

    def _abort_multipart(self, key: str, upload: str) -> None:
        # If this fails too, the store expires abandoned uploads (a lifecycle rule).
        with contextlib.suppress(S3Error):
            self._send("DELETE", key, params=[("uploadId", upload)])

    # -- requests ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        key: str | None,
        params: list[tuple[str, str]],
        headers: dict[str, str],
        payload: str,
    ) -> tuple[httpx.URL, dict[str, str]]:
        path = f"/{self.bucket}" + ("" if key is None else f"/{key}")
        base = self.endpoint.raw_path.decode().rstrip("/")
        full = base + path
        signed = {
            "host": self.endpoint.netloc.decode(),
            "x-amz-date": sigv4.amz_date(),
            "x-amz-content-sha256": payload,
            **headers,
        }
        signed["authorization"] = sigv4.authorization(
            method, full, params, signed, payload, **self._keys
        )
        query = sigv4.canonical_query(params)
        raw = sigv4.uri_encode(full, keep_slash=True) + (f"?{query}" if query else "")
        return self.endpoint.copy_with(raw_path=raw.encode()), signed

    def _send(
        self,
        method: str,
        key: str | None,
        *,
        params: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        payload: str = sigv4.EMPTY_SHA256,
    ) -> httpx.Response:
        url, signed = self._request(method, key, params or [], headers or {}, payload)
        try:
            answer = self._http.request(method, url, headers=signed, content=content)
        except httpx.HTTPError as exc:
            raise Unavailable(0, type(exc).__name__, f"{self.endpoint}: {exc}") from None
        _check(answer, key)
        return answer

    def _stream(self, key: str, headers: dict[str, str]) -> Iterator[bytes]:
        url, signed = self._request("GET", key, [], headers, sigv4.EMPTY_SHA256)
        try:
            with self._http.stream("GET", url, headers=signed) as answer:
                if answer.status_code >= 300:
                    answer.read()
                    _check(answer, key)
                yield from answer.iter_bytes(READ_CHUNK)
        except httpx.HTTPError as exc:
            raise Unavailable(0, type(exc).__name__, f"{self.endpoint}: {exc}") from None


def _check(answer: httpx.Response, key: str | None) -> None:
    if answer.status_code < 300:
        return
    code, message = "", answer.reason_phrase
    if answer.content:
        try:
            root = ET.fromstring(answer.content)
            code = root.findtext("Code") or ""
            message = root.findtext("Message") or message
        except ET.ParseError:
            pass
    status = answer.status_code
    if status == 404:
        raise NotFound(status, code or "NoSuchKey", f"{key}: {message}")
    if status >= 500:
        raise Unavailable(status, code or "ServerError", message)
    raise S3Error(status, code or "Refused", message)


def _meta(metadata: dict[str, str] | None) -> dict[str, str]:
    return {f"x-amz-meta-{k}": v for k, v in (metadata or {}).items()}


def _parts(chunks: Iterable[bytes], size: int, hasher: "hashlib._Hash") -> Iterator[bytes]:
    """The stream regrouped in pieces of `size` bytes (the last may be shorter)."""
    buf = bytearray()
    for chunk in chunks:
        hasher.update(chunk)
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)
