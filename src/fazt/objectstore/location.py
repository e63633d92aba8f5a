"""Where objects go (`s3://bucket/prefix`) and what the store may answer, without httpx:
an idle worker imports these, and loads the client (fazt.objectstore.client) on first use."""

from dataclasses import dataclass
from urllib.parse import urlparse


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class NotFound(S3Error):
    pass


class Unavailable(S3Error):
    """The store did not answer, or answered 5xx."""


@dataclass(frozen=True)
class Location:
    """Where objects go: `s3://bucket/prefix`."""

    bucket: str
    prefix: str  # no leading or trailing slash; may be empty

    @classmethod
    def parse(cls, url: str) -> "Location":
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
        return cls(parsed.netloc, parsed.path.strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
