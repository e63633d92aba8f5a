"""Litestream's config and environment for an S3-compatible replica: no secret in the
config, path-style URLs and a default region with an endpoint, the CA-bundle workaround."""

from pathlib import Path

from fazt.backup import replicate as rep

S3 = {
    "replicate_url": "s3://bucket/fazt",
    "replicate_s3_endpoint": "http://127.0.0.1:8333",
    "replicate_s3_region": "",
}


def test_credentials_reach_litestream_by_environment_only(tmp_path, monkeypatch):
    monkeypatch.setenv("FAZT_HOME", str(tmp_path))
    rep.save_credentials("AKIDEXAMPLE", "the-secret-value")
    config = rep.render_config(Path(tmp_path / "data.db"), S3)
    assert "the-secret-value" not in config and "AKIDEXAMPLE" not in config
    env = rep.child_env(S3)
    assert env["LITESTREAM_ACCESS_KEY_ID"] == "AKIDEXAMPLE"
    assert env["LITESTREAM_SECRET_ACCESS_KEY"] == "the-secret-value"
    assert (tmp_path / "replicate-credentials.json").stat().st_mode & 0o777 == 0o600


def test_an_endpoint_means_path_style_and_a_default_region(tmp_path, monkeypatch):
    monkeypatch.setenv("FAZT_HOME", str(tmp_path))
    config = rep.render_config(Path(tmp_path / "data.db"), S3)
    assert "force-path-style: true" in config and 'region: "us-east-1"' in config
    aws = {"replicate_url": "s3://bucket/fazt", "replicate_s3_region": "eu-west-1"}
    config = rep.render_config(Path(tmp_path / "data.db"), aws)
    assert "force-path-style" not in config and 'region: "eu-west-1"' in config
    assert rep.restore_url("s3://bucket/fazt", S3) == (
        "s3://bucket/fazt?endpoint=http%3A%2F%2F127.0.0.1%3A8333&region=us-east-1"
        "&forcePathStyle=true"
    )
    assert rep.restore_url("s3://bucket/fazt", aws) == "s3://bucket/fazt"


def test_ca_bundle_is_dropped_for_plain_http_endpoints_only(tmp_path, monkeypatch):
    monkeypatch.setenv("FAZT_HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/custom.pem")
    assert "AWS_CA_BUNDLE" not in rep.child_env(S3)
    https = {**S3, "replicate_s3_endpoint": "https://s3.example.com"}
    assert rep.child_env(https)["AWS_CA_BUNDLE"] == "/etc/ssl/custom.pem"
