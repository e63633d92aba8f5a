"""Cold start (issue 22): the first request to an app right after its deploy gets a
context whose prelude a JS worker evaluated ahead, while idle (its spare), and a redeploy
never answers with the previous deployment's code.

One JS worker, so that which context serves which request is known: the pool's counters
(`runtime.js_pool` of GET /api/system/health) say how each new context was made."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

LIB = "exports.word = () => 'WORD';\n"
ROUTE = "const lib = require('./lib.js');\nmodule.exports = () => ({ word: lib.word() });\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("cold") / "home"
    with running_server(home, {"runtime_workers": "1"}) as s:
        yield s


def pool(srv: FaztServer) -> dict:
    r = srv.api("GET", "/api/system/health")
    assert r.status_code == 200, r.text
    return r.json()["data"]["runtime"]["js_pool"]


def spare_ready(srv: FaztServer) -> bool:
    """The one worker has built a spare context that no request has taken yet."""
    p = pool(srv)
    return p["running"] == 1 and p["contexts_prepared"] > p["contexts_spare"]


def deploy_route(srv: FaztServer, root: Path, site: str, word: str) -> None:
    folder = write_site(root / f"{site}-{word}", {"api/x.js": ROUTE, "api/lib.js": LIB})
    (folder / "api" / "lib.js").write_text(LIB.replace("WORD", word))
    srv.deploy(folder, site)


def word(srv: FaztServer, site: str) -> str:
    r = srv.get("/api/x", host=f"{site}.localhost")
    assert r.status_code == 200, r.text
    return r.json()["word"]


def test_first_request_after_a_deploy_takes_the_spare_context(srv, tmp_path):
    deploy_route(srv, tmp_path, "warmup", "up")
    assert word(srv, "warmup") == "up"  # the worker is running from here on
    for n in range(3):
        before = pool(srv)
        deploy_route(srv, tmp_path, f"cold{n}", f"w{n}")
        wait_for(lambda: spare_ready(srv), what="the worker's spare context")
        assert word(srv, f"cold{n}") == f"w{n}"
        after = pool(srv)
        # a new context for the new deployment, and it came from the spare: the
        # prelude was not evaluated on this request's path
        assert after["contexts_spare"] == before["contexts_spare"] + 1
        assert after["contexts_cold"] == before["contexts_cold"]
        assert word(srv, f"cold{n}") == f"w{n}"
        assert pool(srv)["contexts_spare"] == after["contexts_spare"]  # the context is kept


def test_a_root_main_js_gets_its_own_context_with_the_legacy_prelude(srv, tmp_path):
    """A spare has only the new prelude: a v0.9 root main.js (which needs the legacy
    one first) is built cold, and the spare stays for the next app."""
    folder = write_site(tmp_path / "legacy", {"main.js": "res.send('legacy ok');\n"})
    before = pool(srv)
    srv.deploy(folder, "legacyapp")
    r = srv.get("/", host="legacyapp.localhost")
    assert r.status_code == 200 and r.text == "legacy ok"
    after = pool(srv)
    assert after["contexts_cold"] == before["contexts_cold"] + 1
    assert after["contexts_spare"] == before["contexts_spare"]


def test_a_redeploy_never_answers_with_the_old_code(srv, tmp_path):
    """Contexts and sources are per deployment: the first request after each deploy
    answers with that deployment's code, even for a changed helper module behind an
    unchanged route file, and right after a request warmed the previous one."""
    site = "redeploy"
    for n in range(4):
        deploy_route(srv, tmp_path, site, f"v{n}")
        assert word(srv, site) == f"v{n}"  # the very first request after the deploy
        assert word(srv, site) == f"v{n}"


def test_a_spare_context_carries_nothing_of_another_app(srv, tmp_path):
    leaky = (
        "module.exports = () => { globalThis.leak = 'A'; "
        "try { Object.prototype.polluted = 1; } catch (e) {} return { leak: globalThis.leak }; };"
    )
    probe = (
        "module.exports = () => ({ leak: typeof leak, polluted: typeof ({}).polluted, "
        "app: fazt.app.name });"
    )
    srv.deploy(write_site(tmp_path / "a", {"api/x.js": leaky}), "leaka")
    assert srv.get("/api/x", host="leaka.localhost").json() == {"leak": "A"}
    srv.deploy(write_site(tmp_path / "b", {"api/x.js": probe}), "probeb")
    wait_for(lambda: spare_ready(srv), what="the worker's spare context")
    spare_before = pool(srv)["contexts_spare"]
    got = srv.get("/api/x", host="probeb.localhost").json()
    assert got == {"leak": "undefined", "polluted": "undefined", "app": "probeb"}
    assert pool(srv)["contexts_spare"] == spare_before + 1
