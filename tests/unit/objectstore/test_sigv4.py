"""The signer against AWS's published SigV4 examples (S3 header-based authentication,
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html)."""

import hashlib

from fazt.objectstore import sigv4

KEYS = {
    "access_key": "AKIAIOSFODNN7EXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
}
HOST = "examplebucket.s3.amazonaws.com"
WHEN = "20130524T000000Z"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"


def _sig(header: str) -> str:
    return header.rsplit("Signature=", 1)[1]


def test_get_object_with_range():
    headers = {
        "Host": HOST,
        "Range": "bytes=0-9",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
        "x-amz-date": WHEN,
    }
    auth = sigv4.authorization("GET", "/test.txt", [], headers, sigv4.EMPTY_SHA256, **KEYS)
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},")
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in auth
    assert _sig(auth) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_put_object():
    body = b"Welcome to Amazon S3."
    payload = hashlib.sha256(body).hexdigest()
    assert payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    headers = {
        "Host": HOST,
        "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": WHEN,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": payload,
    }
    auth = sigv4.authorization("PUT", "/test$file.text", [], headers, payload, **KEYS)
    assert "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class," in auth
    assert _sig(auth) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_get_bucket_lifecycle():
    headers = {"Host": HOST, "x-amz-date": WHEN, "x-amz-content-sha256": sigv4.EMPTY_SHA256}
    params = [("lifecycle", "")]
    auth = sigv4.authorization("GET", "/", params, headers, sigv4.EMPTY_SHA256, **KEYS)
    assert _sig(auth) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"


def test_list_objects_query_is_sorted_and_encoded():
    headers = {"Host": HOST, "x-amz-date": WHEN, "x-amz-content-sha256": sigv4.EMPTY_SHA256}
    params = [("prefix", "J"), ("max-keys", "2")]  # out of order on purpose
    auth = sigv4.authorization("GET", "/", params, headers, sigv4.EMPTY_SHA256, **KEYS)
    assert _sig(auth) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_key_characters_are_percent_encoded_but_slashes_kept():
    assert sigv4.uri_encode("a b/c$d~e", keep_slash=True) == "a%20b/c%24d~e"
    assert sigv4.canonical_query([("b", "x/y"), ("a", "")]) == "a=&b=x%2Fy"
