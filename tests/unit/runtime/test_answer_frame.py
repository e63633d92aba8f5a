"""The answer frame the prelude writes (`D` + the head's JSON + newline + the body) carries
any status, headers, logs and body an app gives, exactly: the server reads the same
values back (outcome.decode_outcome), whatever characters they hold, NUL included (the
QuickJS binding ends strings at a NUL). A NUL in what JavaScript passes to fazt's
storage is refused, not cut off."""

import json
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from fazt.runtime.outcome import decode_outcome
from fazt.runtime.sandbox import Host, Job, Prepared

# The handler answers with what the request's body asks for: nothing is spliced into code.
MAIN = """function handler(req) {
  const a = req.body;
  for (const line of a.logs) console.log(line);
  return { status: a.status, headers: a.headers, body: a.body };
}
__fazt_keep(handler(request));
"""
KEY = ("app", 1, 64, 256 * 1024)
CONTEXT = json.dumps({"app": "app", "env": {}, "version": "test", "storage": True})


def job(body: dict | None, entry: str = "api/main.js") -> Job:
    request = {"method": "POST", "path": "/api", "query": {}, "headers": {}, "body": body}
    deadline = time.monotonic() + 30
    return Job("app", KEY, entry, json.dumps(request), CONTEXT, 64, KEY[3], deadline)


KV_NUL = """module.exports = () => {
  try { fazt.storage.kv.set("a\\0b", 1); return "stored"; } catch (e) { return e.message; }
};
"""
CONTEXT_ONCE = Prepared(job({}), {"api/main.js": MAIN, "api/kv.js": KV_NUL}, Host())
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # no lone surrogates


@settings(max_examples=150, deadline=None)
@given(
    status=st.integers(100, 999),
    headers=st.dictionaries(text.filter(bool), text, max_size=5),
    logs=st.lists(text, max_size=3),
    body=text,
)
@example(status=200, headers={'x-"q"': 'a\\b\n"c"\u2028\0'}, logs=["\n"], body="\n\0")
def test_the_frame_carries_what_the_app_answered(status, headers, logs, body):
    frame = CONTEXT_ONCE.run(
        job({"status": status, "headers": headers, "logs": logs, "body": body})
    )
    assert frame.raw is not None and frame.raw.startswith("D")
    out = decode_outcome(frame.raw[1:])
    expected = [[k, v] for k, v in headers.items()]
    if not any(k.lower() == "content-type" for k in headers):
        expected.append(["content-type", "text/plain; charset=utf-8"])  # the prelude's default
    assert out.status == status
    assert sorted(out.headers) == sorted(expected)  # JS orders integer-like keys first
    assert [entry[1] for entry in out.logs] == logs
    assert out.body == body


def test_a_nul_in_a_storage_key_is_refused_not_cut_off():
    out = decode_outcome(CONTEXT_ONCE.run(job(None, "api/kv.js")).raw[1:])
    assert "NUL character" in out.body, out.body
