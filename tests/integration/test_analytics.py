"""Privacy-first analytics over real HTTP: script injection, beacons, the pixel, DNT,
bad input, no raw IPs on disk, no hit lost on SIGTERM, request metrics, retention."""

import hashlib
import json
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, init_server, wait_for, write_site

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; rv:125.0) Gecko/20100101 Firefox/125.0"
PAGE = (
    "<!doctype html><html><head><title>Blog</title></head><body>"
    + "<p>hello, this is a post worth compressing</p>" * 20
    + "</body></html>"
)
TAG = '<script src="/_fazt/t.js" defer></script>'


def deploy_blog(server: FaztServer, tmp_path: Path, site: str = "blog", **files) -> None:
    folder = write_site(tmp_path / site, {"index.html": PAGE, **files})
    server.deploy(folder, site)


def beacon(server: FaztServer, body, site="blog", ua=CHROME, **headers) -> httpx.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return server.request(
        "POST",
        "/_fazt/track",
        host=f"{site}.localhost",
        content=data,
        headers={"user-agent": ua, "content-type": "text/plain;charset=UTF-8", **headers},
    )


def overview(server: FaztServer, site: str | None = "blog", days: int = 7) -> dict:
    query = f"?days={days}" + (f"&site={site}" if site else "")
    response = server.api("GET", "/api/analytics" + query)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def event_count(db: Path, site: str | None = None) -> int:
    """Events stored, all or one site's (tests on the shared server count their own)."""
    query, args = "SELECT COUNT(*) FROM analytics_events", ()
    if site is not None:
        query, args = query + " WHERE site = ?", (site,)
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query, args).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def server(shared_server):
    """One server for the module. Tests on it use their own site (`site_name`) and count
    only its hits; the ones that stop the server or count every site have their own."""
    return shared_server


def test_script_is_injected_into_user_pages_only_and_sites_can_opt_out(server, tmp_path, site_name):
    blog, host = site_name, f"{site_name}.localhost"
    deploy_blog(server, tmp_path, blog, **{"frag.html": "<h1>fragment</h1>", "a.css": "p{}"})
    page = server.get("/", host=host)
    assert page.status_code == 200
    assert TAG + "</head>" in page.text
    bare = hashlib.sha256(PAGE.encode()).hexdigest()
    assert page.headers["etag"] != f'"{bare[:40]}"'  # the served bytes changed, so does it
    zipped = server.get("/", host=host, headers={"accept-encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip" and TAG in zipped.text
    again = server.get("/", host=host, headers={"if-none-match": page.headers["etag"]})
    assert again.status_code == 304
    assert TAG not in server.get("/frag.html", host=host).text
    script = server.get("/_fazt/t.js", host=host)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/_fazt/track" in script.text
    # The dashboard and the system sites carry no tracker.
    assert TAG not in server.get("/", host="localhost").text
    assert TAG not in server.get("/", host="nothing-here.localhost").text
    # manifest.json {"analytics": false} opts a site out.
    quiet = write_site(
        tmp_path / "quiet", {"index.html": PAGE, "manifest.json": '{"analytics": false}'}
    )
    server.deploy(quiet, f"{blog}-quiet")
    assert server.get("/", host=f"{blog}-quiet.localhost").text == PAGE
    bad = write_site(tmp_path / "bad", {"index.html": PAGE, "manifest.json": '{"analytics": 1}'})
    out = server.cli("deploy", str(bad), "--site", f"{blog}-bad", check=False)
    assert out.returncode != 0 and "analytics" in out.stderr + out.stdout


def test_beacons_are_counted_with_unique_visitors_and_families(fresh_server, tmp_path):
    server = fresh_server  # it counts every site's hits too
    deploy_blog(server, tmp_path)
    ref = "https://news.example.com/story?id=1"
    assert beacon(server, {"p": "/", "r": ref}).status_code == 204
    assert beacon(server, {"p": "/about", "r": "http://blog.localhost/"}).status_code == 204
    assert beacon(server, {"p": "/"}, ua=FIREFOX).status_code == 204
    assert beacon(server, {"p": "/", "n": "signup"}).status_code == 204
    data = wait_for(
        lambda: (d := overview(server)) and d["pageviews"] == 3 and d, what="3 pageviews"
    )
    assert data["visitors"] == 2  # same IP + user agent on the same day = one visitor
    assert data["series"][-1] == {
        "day": time.strftime("%Y-%m-%d", time.gmtime()),
        "visitors": 2,
        "pageviews": 3,
    }
    assert {"site": "blog", "path": "/", "pageviews": 2} in data["top_pages"]
    # Only the outside referrer counts, as a host; the site's own host is internal.
    assert data["referrers"] == [{"referrer": "news.example.com", "visits": 1}]
    assert sorted(b["name"] for b in data["browsers"]) == ["Chrome", "Firefox"]
    assert {d["name"] for d in data["devices"]} == {"Desktop"}
    assert overview(server, site="other")["pageviews"] == 0
    listed = server.api("GET", "/api/analytics/sites?days=7").json()["data"]
    assert listed == [{"site": "blog", "visitors": 2, "pageviews": 3}]
    assert overview(server, site=None)["pageviews"] == 3


def test_dnt_gpc_and_robots_are_not_counted(server, tmp_path, site_name):
    blog = site_name
    deploy_blog(server, tmp_path, blog)
    assert beacon(server, {"p": "/dnt"}, blog, dnt="1").status_code == 204
    assert beacon(server, {"p": "/gpc"}, blog, **{"sec-gpc": "1"}).status_code == 204
    assert beacon(server, {"p": "/bot"}, blog, ua="curl/8.5.0").status_code == 204
    pixel = server.get(f"/pixel.gif?site={blog}", headers={"user-agent": CHROME, "dnt": "1"})
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert beacon(server, {"p": "/counted"}, blog).status_code == 204
    data = wait_for(
        lambda: (d := overview(server, blog)) and d["pageviews"] and d, what="a pageview"
    )
    assert data["pageviews"] == 1
    assert [p["path"] for p in data["top_pages"]] == ["/counted"]
    assert event_count(server.db, blog) == 1


def test_bad_beacons_get_4xx_and_change_nothing(server, tmp_path, site_name):
    blog = site_name
    deploy_blog(server, tmp_path, blog)
    cases = [
        ("{not json", 400),
        ("[1, 2]", 400),
        (json.dumps({"p": 5}), 400),
        (json.dumps({"p": "/", "n": ["x"]}), 400),
        (json.dumps({"p": "/" + "x" * 9000}), 413),
    ]
    for body, status in cases:
        response = beacon(server, body, blog)
        assert response.status_code == status, (body[:40], response.text)
        assert response.json()["error"]["code"]
    assert server.get("/_fazt/track", host=f"{blog}.localhost").status_code == 405
    assert server.get("/_fazt/nope", host=f"{blog}.localhost").status_code == 404
    assert beacon(server, {"p": "/ok"}, blog).status_code == 204
    wait_for(lambda: overview(server, blog)["pageviews"] == 1, what="the good beacon")
    assert event_count(server.db, blog) == 1


def test_dashboard_track_and_pixel_attribute_hits_to_sites(server, tmp_path, site_name):
    blog = site_name
    deploy_blog(server, tmp_path, blog)
    headers = {"user-agent": CHROME}
    tracked = server.request(
        "POST", "/track", content=json.dumps({"d": f"{blog}.localhost", "p": "/x"}), headers=headers
    )
    assert tracked.status_code == 204
    assert tracked.headers["access-control-allow-origin"] == "*"
    pixel = server.get(f"/pixel.gif?site={blog}&path=/mail&source=newsletter", headers=headers)
    assert pixel.status_code == 200 and pixel.content.startswith(b"GIF89a")
    assert "no-store" in pixel.headers["cache-control"]
    on_site = server.get("/_fazt/pixel.gif?path=/img", host=f"{blog}.localhost", headers=headers)
    assert on_site.content == pixel.content
    data = wait_for(
        lambda: (d := overview(server, blog)) and d["pageviews"] == 3 and d, what="hits"
    )
    assert {p["path"] for p in data["top_pages"]} == {"/x", "/mail", "/img"}


def test_no_raw_ip_is_ever_written(fresh_server, tmp_path):
    server = fresh_server  # it stops the server
    deploy_blog(server, tmp_path)
    spoofed = "198.51.100.77"
    for _ in range(3):
        assert beacon(server, {"p": "/"}, **{"x-forwarded-for": spoofed}).status_code == 204
    wait_for(lambda: overview(server)["pageviews"] == 3, what="3 pageviews")
    assert server.stop() == 0
    for path in server.db.parent.glob(server.db.name + "*"):  # data.db, -wal, -shm
        raw = path.read_bytes()
        assert b"127.0.0.1" not in raw, path
        assert spoofed.encode() not in raw, path


def test_buffered_hits_survive_sigterm(fresh_server, tmp_path):
    server = fresh_server  # it stops the server
    deploy_blog(server, tmp_path)
    count = 400
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(count):
            response = client.post(
                "/_fazt/track",
                content=json.dumps({"p": f"/p{i % 10}"}),
                headers={"host": "blog.localhost", "user-agent": f"{CHROME} n{i}"},
            )
            assert response.status_code == 204
    assert server.stop(signal.SIGTERM) == 0
    assert event_count(server.db) == count
    conn = sqlite3.connect(server.db)
    try:
        pageviews = conn.execute("SELECT SUM(pageviews) FROM analytics_daily").fetchone()[0]
    finally:
        conn.close()
    assert pageviews == count


def test_requests_and_errors_are_counted_per_hour(server, tmp_path, site_name):
    site = write_site(
        tmp_path / "apiapp",
        {"index.html": PAGE, "api/boom.js": "module.exports = () => { throw new Error('x'); };"},
    )
    server.deploy(site, site_name)
    before = server.api("GET", "/api/analytics/requests?hours=2").json()["data"]
    assert len(before) == 2
    for _ in range(20):
        server.get("/", host=f"{site_name}.localhost")  # the cached fast path counts too
    assert server.get("/api/boom", host=f"{site_name}.localhost").status_code == 500

    def counted():
        series = server.api("GET", "/api/analytics/requests?hours=2").json()["data"]
        now = series[-1]
        return now["requests"] >= before[-1]["requests"] + 21 and now["errors"] >= 1 and now

    now = wait_for(counted, what="the hour's counters")
    assert now["hour"].endswith(":00:00Z")
    bad = server.api("GET", "/api/analytics/requests?hours=zero")
    assert bad.status_code == 400
    assert server.api("GET", "/api/analytics?days=0").status_code == 400


def test_analytics_api_needs_an_admin_key(server):
    deploy_key = server.create_key("ci", "deploy")
    assert server.api("GET", "/api/analytics", token=deploy_key).status_code == 403
    assert server.request("GET", "/api/analytics").status_code == 401


def test_retention_prunes_old_events_and_rollups(tmp_path):
    old, recent = int(time.time()) - 40 * 86400, int(time.time()) - 2 * 86400
    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home, {"analytics_retention_days": "30"})  # migrated, not started
    conn = sqlite3.connect(srv.db)
    with conn:
        for t in (old, recent):
            day = time.strftime("%Y-%m-%d", time.gmtime(t))
            conn.execute(
                "INSERT INTO analytics_events (time, site, kind, path) VALUES (?, 'blog', "
                "'pageview', '/')",
                (t,),
            )
            conn.execute(
                "INSERT INTO analytics_daily (day, site, pageviews, visitors) "
                "VALUES (?, 'blog', 1, 1)",
                (day,),
            )
    conn.close()
    srv.start()  # pruning runs at start, then hourly
    try:

        def pruned():
            c = sqlite3.connect(srv.db)
            try:
                events = c.execute("SELECT time FROM analytics_events").fetchall()
                days = c.execute("SELECT COUNT(*) FROM analytics_daily").fetchone()[0]
            finally:
                c.close()
            return events == [(recent,)] and days == 1

        wait_for(pruned, what="events older than 30 days to be pruned")
    finally:
        srv.stop()
        srv.kill()


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_track_rejects_other_methods(server, method):
    assert server.request(method, "/track").status_code == 405


def test_tracking_script_in_a_real_browser(server, tmp_path, chromium, site_name):
    """Chromium loads an injected page, follows a link and records a custom event: the
    script's beacons arrive and are counted (Debian's chromium, never a download)."""
    blog = site_name
    deploy_blog(
        server,
        tmp_path,
        blog,
        **{
            "index.html": PAGE.replace("<body>", '<body><a id="next" href="/about.html">a</a>'),
            "about.html": PAGE.replace("<body>", '<body><button id="go">go</button>'),
        },
    )
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://{blog}.localhost:{server.port}/")
        page.click("#next")
        page.wait_for_url("**/about.html")
        page.wait_for_function("window.fazt && typeof window.fazt.track === 'function'")
        page.evaluate("window.fazt.track('clicked-go')")
        data = wait_for(
            lambda: (d := overview(server, blog)) and d["pageviews"] == 2 and d,
            what="two pageviews from the browser",
        )
    finally:
        context.close()
    assert {p["path"] for p in data["top_pages"]} == {"/", "/about.html"}
    assert data["visitors"] == 1
    assert data["browsers"] == [{"name": "Chrome", "visits": 1}]

    def custom_event():
        conn = sqlite3.connect(server.db)
        try:
            return conn.execute(
                "SELECT name FROM analytics_events WHERE kind = 'event' AND site = ?", (blog,)
            ).fetchall()
        finally:
            conn.close()

    assert wait_for(custom_event, what="the custom event") == [("clicked-go",)]
