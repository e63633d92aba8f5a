"""fazt.objectstore's S3 client against a real SeaweedFS S3 gateway."""

import hashlib
import os
import secrets

import pytest

from fazt.objectstore.client import S3Client
from fazt.objectstore.location import NotFound, S3Error, Unavailable
from tests.integration.s3.conftest import BUCKET


@pytest.fixture
def client(seaweedfs):
    c = S3Client(
        seaweedfs.endpoint,
        BUCKET,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
    )
    yield c
    c.close()


def _prefix() -> str:
    return "client-" + secrets.token_hex(4)


def test_put_head_get_range_delete(client):
    key = f"{_prefix()}/a b+c$.txt"  # characters that must be encoded the signed way
    data = os.urandom(3000)
    client.put(key, data, metadata={"sha256": hashlib.sha256(data).hexdigest()})
    head = client.head(key)
    assert head is not None and head.size == 3000
    assert head.metadata["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.read(key) == data
    assert b"".join(client.get(key, 100, 200)) == data[100:200]
    assert b"".join(client.get(key, 2990)) == data[2990:]
    client.delete(key)
    assert client.head(key) is None
    with pytest.raises(NotFound):
        client.read(key)
    client.delete(key)  # deleting twice is fine


def test_multipart_upload_of_a_stream(client):
    key = f"{_prefix()}/big"
    part = 5 * 1024 * 1024  # S3's smallest part
    data = os.urandom(2 * part + 12345)
    chunks = (data[i : i + 100_000] for i in range(0, len(data), 100_000))
    digest = client.put_stream(key, chunks, len(data), part_bytes=part)
    assert digest == hashlib.sha256(data).hexdigest()
    assert client.head(key).size == len(data)
    got = client.read(key)
    assert hashlib.sha256(got).hexdigest() == digest
    client.delete(key)


def test_stream_of_the_wrong_length_is_refused(client):
    with pytest.raises(ValueError):
        client.put_stream(f"{_prefix()}/short", [b"abc"], 10)
    assert client.head(f"{_prefix()}/short") is None


def test_list_pages_through_every_key(client):
    prefix = _prefix()
    keys = [f"{prefix}/k{i:04d}" for i in range(5)]
    for k in keys:
        client.put(k, k.encode())
    listed = list(client.list_objects(prefix + "/"))
    assert [k for k, _ in listed] == keys
    assert all(size == len(k) for k, size in listed)
    for k in keys:
        client.delete(k)
    assert list(client.list_objects(prefix + "/")) == []


def test_wrong_secret_is_a_refusal_not_a_crash(seaweedfs):
    bad = S3Client(seaweedfs.endpoint, BUCKET, access_key=seaweedfs.access_key, secret_key="no")
    with pytest.raises(S3Error) as caught:
        bad.head("anything")
    assert caught.value.status == 403
    bad.close()


def test_unreachable_endpoint_is_unavailable():
    from tests.conftest import free_port

    c = S3Client(f"http://127.0.0.1:{free_port()}", BUCKET, access_key="a", secret_key="b")
    with pytest.raises(Unavailable):
        c.head("x")
    with pytest.raises(Unavailable):
        c.read("x")
    c.close()
