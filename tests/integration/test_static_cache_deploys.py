"""A deploy frees the cache held by the site's previous live deployment (the soak found the
cache filling with superseded deployments' files until its cap, ~2.7 MB per deploy)."""

from tests.conftest import running_server, wait_for, write_site


def _cache(srv) -> dict:
    return srv.api("GET", "/api/system/cache").json()["data"]


def test_a_new_live_deployment_drops_the_old_ones_cached_files(tmp_path):
    files = {f"p{i}.html": f"<p>{i}</p>" + "x" * 4000 for i in range(20)}
    with running_server(tmp_path / "home") as srv:
        site = write_site(tmp_path / "site", files)
        srv.deploy(site, "blog")
        for name in files:
            assert srv.get(f"/{name}", host="blog.localhost").status_code == 200
        full = _cache(srv)
        assert full["CachedFiles"] >= 20 and full["CacheSizeBytes"] > 20 * 4000

        (site / "p0.html").write_text("<p>new</p>")
        srv.deploy(site, "blog")
        # Within the routing watch's second: the old deployment's 20 files are gone.
        wait_for(lambda: _cache(srv)["CachedFiles"] < 20, 10, what="the old files dropped")
        assert _cache(srv)["CacheSizeBytes"] < 4000 * 5
        assert srv.get("/p0.html", host="blog.localhost").text == "<p>new</p>"
        assert srv.get("/p1.html", host="blog.localhost").status_code == 200
