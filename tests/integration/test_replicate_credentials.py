"""`fazt replicate enable --credentials-file`: an AWS shared credentials file, read once,
kept in $FAZT_HOME (0600), never in the database."""

from tests.conftest import run_cli


def test_enable_reads_a_credentials_file_and_keeps_the_secret_out_of_the_database(tmp_path):
    creds = tmp_path / "aws-credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s3cr3t-f\n")
    db = tmp_path / "data.db"
    args = ["replicate", "enable", "--to", "s3://bucket/x", "--endpoint", "http://127.0.0.1:9"]
    run_cli(tmp_path, *args, "--credentials-file", str(creds), "--db", str(db))
    saved = (tmp_path / "replicate-credentials.json").read_text()
    assert "AKIDFILE" in saved and "s3cr3t-f" in saved
    for path in tmp_path.glob("data.db*"):
        assert b"s3cr3t-f" not in path.read_bytes(), path
    creds.write_text("[other]\naws_access_key_id = A\n")
    bad = run_cli(tmp_path, *args, "--credentials-file", str(creds), "--db", str(db), check=False)
    assert bad.returncode == 1 and "no 'default' profile" in bad.stderr
