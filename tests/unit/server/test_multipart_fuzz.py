"""Fuzzing the multipart/form-data parser of POST /api/deploy (fazt.api.deploy._parse_form,
over python-multipart): any body and boundary give the fields or an HTTPError 400, never
another exception; bodies we build come back field for field and byte for byte."""

import io

from hypothesis import example, given
from hypothesis import strategies as st

from fazt.api.deploy import _parse_form
from fazt.web.http import HTTPError


def parse(ctype: str, body: bytes):
    """(fields, file bytes or None), or None for a 400."""
    try:
        fields, upload = _parse_form(ctype, len(body), io.BytesIO(body))
    except HTTPError as exc:
        assert exc.status == 400 and exc.code == "BAD_REQUEST"
        return None
    try:
        return fields, (upload.read() if upload is not None else None)
    finally:
        if upload is not None:
            upload.close()


boundary_chars = st.sampled_from(list("abcXYZ0129'()+_,-./:=? "))
boundaries = st.text(boundary_chars, min_size=1, max_size=70).filter(
    lambda b: not b.endswith(" ")  # RFC 2046: a boundary does not end in a space
)


@given(
    body=st.binary(max_size=600),
    boundary=st.text(max_size=30) | boundaries,
    quoted=st.booleans(),
)
@example(body=b"--x\r\n\r\n--x--\r\n", boundary="x", quoted=False)  # a part without headers
@example(
    body=b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--", boundary="x", quoted=False
)
@example(body=b"", boundary="", quoted=False)
@example(body=b"--\xff\r\n", boundary="\xff", quoted=True)
def test_arbitrary_bodies_give_fields_or_a_400(body, boundary, quoted):
    b = f'"{boundary}"' if quoted else boundary
    parse(f"multipart/form-data; boundary={b}", body)


@st.composite
def mutated_bodies(draw):
    boundary = draw(boundaries)
    body = bytearray(build(boundary, {"site_name": "blog"}, b"PK\x03\x04 zip bytes"))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(body)))
        if draw(st.booleans()):
            del body[position : position + draw(st.integers(1, 20))]
        else:
            body[position:position] = draw(st.sampled_from([b"\r\n", b"--", b'"', b";", b"\x00"]))
    return boundary, bytes(body)


@given(case=mutated_bodies())
def test_mutated_bodies_give_fields_or_a_400(case):
    boundary, body = case
    parse(f"multipart/form-data; boundary={boundary}", body)


# -- round trip ---------------------------------------------------------------------------


def build(boundary: str, fields: dict[str, str], file: bytes | None) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    if file is not None:
        out += f"--{boundary}\r\n".encode()
        out += b'Content-Disposition: form-data; name="file"; filename="site.zip"\r\n'
        out += b"Content-Type: application/zip\r\n\r\n" + file + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


field_names = st.text(st.sampled_from(list("abc_-0")), min_size=1, max_size=10).filter(
    lambda n: n != "file"
)
field_values = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)


@given(
    boundary=boundaries,
    fields=st.dictionaries(field_names, field_values, max_size=4),
    file=st.none() | st.binary(max_size=3000),
)
@example(boundary="x", fields={"site_name": "blog"}, file=b"\r\n--x\r\n")  # looks like a boundary
def test_built_bodies_round_trip(boundary, fields, file):
    body = build(boundary, fields, file)
    if file is not None and f"\r\n--{boundary}".encode() in file:
        return  # a file containing the delimiter cannot be sent with this boundary
    result = parse(f'multipart/form-data; boundary="{boundary}"', body)
    assert result is not None
    parsed_fields, parsed_file = result
    assert parsed_fields == fields
    assert parsed_file == file
