"""Deploys racing each other and readers racing deploys: a site is always exactly one
deployment, and it is the one whose pointer flip committed last."""

import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import FaztServer, running_server

SITE = "race"
PATHS = ["index.html", "a.txt", "b.txt", "docs/c.txt", "docs/deep/d.txt", "big.bin"]


def content(tag: str, path: str) -> bytes:
    """Every file of version `tag` names the version; sizes differ between files."""
    head = f"{tag}|{path}|".encode()
    size = 200_000 if path == "big.bin" else 40 + len(path) * 13
    return (head * (size // len(head) + 1))[:size]


def version(tag: str) -> dict[str, bytes]:
    return {p: content(tag, p) for p in PATHS}


def tag_of(path: str, body: bytes) -> str | None:
    """The version a response belongs to, if it is a complete, intact file of one."""
    tag = body.split(b"|", 1)[0].decode(errors="replace")
    return tag if body == content(tag, path) else None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Deployed:
    tag: str
    deployment_id: int
    finalize_sent: float
    returned: float


class Api:
    """One thread's own HTTP client for the API and the site."""

    def __init__(self, srv: FaztServer) -> None:
        self.srv = srv
        self.http = httpx.Client(
            base_url=srv.url, headers={"authorization": f"Bearer {srv.token}"}, timeout=30
        )

    def close(self) -> None:
        self.http.close()

    def deploy_incremental(self, tag: str, before_finalize: Callable[[], None] | None = None):
        files = version(tag)
        manifest = [{"path": p, "sha256": sha(d), "size": len(d)} for p, d in files.items()]
        r = self.http.post(f"/api/apps/{SITE}/deployments", json={"files": manifest})
        assert r.status_code == 201, r.text
        started = r.json()["data"]
        by_sha = {sha(d): d for d in files.values()}
        for digest in started["missing"]:
            r = self.http.put(f"/api/blobs/{digest}", content=by_sha[digest])
            assert r.status_code in (200, 201), r.text
            if before_finalize:
                before_finalize()
        sent = time.monotonic()
        r = self.http.post(
            f"/api/deployments/{started['deployment_id']}/finalize", json={"preview": False}
        )
        returned = time.monotonic()
        assert r.status_code == 200, r.text
        assert r.json()["data"]["deployment_id"] == started["deployment_id"]
        return Deployed(tag, started["deployment_id"], sent, returned)

    def deploy_zip(self, tag: str) -> Deployed:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, data in version(tag).items():
                zf.writestr(path, data)
        sent = time.monotonic()
        r = self.http.post(
            "/api/deploy",
            data={"site_name": SITE},
            files={"file": ("site.zip", buf.getvalue(), "application/zip")},
        )
        returned = time.monotonic()
        assert r.status_code == 200, r.text
        return Deployed(tag, r.json()["data"]["deployment_id"], sent, returned)

    def read_site(self) -> list[tuple[str, float]]:
        """GET every file once, in order: [(tag, time the response arrived)]."""
        seen = []
        for path in PATHS:
            r = self.http.get("/" + path, headers={"host": f"{SITE}.localhost:{self.srv.port}"})
            assert r.status_code == 200, (path, r.status_code)
            tag = tag_of(path, r.content)
            assert tag is not None, f"{path}: not one intact version: {r.content[:60]!r}"
            seen.append((tag, time.monotonic()))
        return seen


@dataclass
class Readers:
    """Threads that read the whole site over and over until stopped."""

    srv: FaztServer
    count: int = 2
    sets: list[list[list[tuple[str, float]]]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Readers":
        for _ in range(self.count):
            mine: list[list[tuple[str, float]]] = []
            self.sets.append(mine)
            thread = threading.Thread(target=self._run, args=(mine,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, mine: list) -> None:
        api = Api(self.srv)
        try:
            while not self._stop.is_set():
                mine.append(api.read_site())
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            api.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        if self.errors:
            raise self.errors[0]


def flip_order(srv: FaztServer) -> dict[int, str]:
    """deployment id -> the time it last went live, from the deployment history."""
    r = srv.api("GET", f"/api/apps/{SITE}/deployments")
    return {d["id"]: d["live_at"] for d in r.json()["data"] if d["live_at"]}


def assert_monotonic(sets, tag_ids: dict[str, int], went_live: dict[int, str]) -> None:
    """A reader may straddle a flip, but it never goes back to an earlier version."""
    for reader in sets:
        last = ""
        for one_set in reader:
            for tag, _ in one_set:
                when = went_live[tag_ids[tag]]
                assert when >= last, f"reader went back to {tag} after a newer version"
                last = when


def live_state(srv: FaztServer) -> tuple[int, set[str]]:
    """(live deployment id per the API, the versions the site serves now)."""
    live = srv.api("GET", f"/api/apps/{SITE}").json()["data"]["live_deployment_id"]
    tags = set()
    for path in PATHS:
        r = srv.get("/" + path, host=f"{SITE}.localhost:{srv.port}")
        assert r.status_code == 200, path
        tags.add(tag_of(path, r.content))
    return live, tags


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("concurrency")) as server:
        api = Api(server)
        try:
            api.deploy_zip("base")
        finally:
            api.close()
        yield server


def test_concurrent_deploys_leave_exactly_the_last_flip_live(srv):
    tag_ids = {"base": srv.api("GET", f"/api/apps/{SITE}").json()["data"]["live_deployment_id"]}
    went_live = flip_order(srv)
    rounds, deployers = 6, 4
    with Readers(srv) as readers:
        for rnd in range(rounds):
            barrier = threading.Barrier(deployers)
            apis = [Api(srv) for _ in range(deployers)]

            def run(i: int, rnd: int = rnd, barrier=barrier, apis=apis) -> Deployed:
                barrier.wait(10)
                tag = f"r{rnd}t{i}"
                if i % 2:
                    return apis[i].deploy_zip(tag)
                return apis[i].deploy_incremental(tag)

            try:
                with ThreadPoolExecutor(deployers) as pool:
                    results = list(pool.map(run, range(deployers)))
            finally:
                for api in apis:
                    api.close()
            tag_ids.update({d.tag: d.deployment_id for d in results})
            went_live.update(flip_order(srv))
            round_ids = {d.deployment_id for d in results}
            assert len(round_ids) == deployers
            last_flip = max(round_ids, key=lambda i: went_live[i])
            live, served = live_state(srv)
            assert live == last_flip, f"round {rnd}: live {live}, last flip {last_flip}"
            # every file the site serves is from that one deployment
            assert served == {next(d.tag for d in results if d.deployment_id == live)}
            # the deployment whose finalize returned last was flipped no earlier than
            # any whose finalize had returned before it was even sent
            last_returned = max(results, key=lambda d: d.returned)
            for d in results:
                if d.returned < last_returned.finalize_sent:
                    assert went_live[d.deployment_id] < went_live[last_returned.deployment_id]
    assert sum(len(r) for r in readers.sets) > 0
    assert_monotonic(readers.sets, tag_ids, went_live)


def test_readers_see_old_version_until_finalize_then_new(srv):
    start_live, served = live_state(srv)
    assert len(served) == 1
    tag_ids = {served.pop(): start_live}
    timeline: list[Deployed] = []
    api = Api(srv)
    try:
        with Readers(srv, count=3) as readers:
            for n in range(3):
                tag = f"slow{n}"
                # let the readers finish a full pass between blob uploads, so they read
                # throughout the upload of a deployment that is not yet visible
                before = [len(r) for r in readers.sets]

                def a_pass_happened(before=before) -> None:
                    end = time.monotonic() + 10
                    while all(len(r) <= b for r, b in zip(readers.sets, before, strict=True)):
                        if readers.errors or time.monotonic() > end:
                            return
                        time.sleep(0.002)
                    before[:] = [len(r) for r in readers.sets]

                done = api.deploy_incremental(tag, before_finalize=a_pass_happened)
                timeline.append(done)
                tag_ids[tag] = done.deployment_id
    finally:
        api.close()
    went_live = flip_order(srv)
    for reader in readers.sets:
        for one_set in reader:
            for tag, seen_at in one_set:
                mine = next((d for d in timeline if d.tag == tag), None)
                if mine is not None:  # never visible before its finalize was sent
                    assert seen_at > mine.finalize_sent, f"{tag} seen before finalize"
    assert_monotonic(readers.sets, tag_ids, went_live)
    seen_tags = {tag for reader in readers.sets for s in reader for tag, _ in s}
    assert {d.tag for d in timeline[:-1]} <= seen_tags  # the readers really overlapped
    live, served = live_state(srv)
    assert live == timeline[-1].deployment_id and served == {timeline[-1].tag}
