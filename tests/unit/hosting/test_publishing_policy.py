"""The publishing policy and the .faztignore matcher, case by case."""

import pytest

from fazt.hosting.ignore import IgnoreRules
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.hosting.publishing_policy import (
    DOTFILE,
    IGNORED,
    JUNK,
    NEVER,
    PublishingPolicy,
    secret_looking,
)

DEFAULT = PublishingPolicy()
DOTS = PublishingPolicy(include_dotfiles=True)


@pytest.mark.parametrize(
    ("path", "default", "with_dotfiles"),
    [
        ("index.html", None, None),
        ("api/hello.js", None, None),
        ("api/_lib/helper.js", None, None),
        ("private/data.json", None, None),
        (".well-known/security.txt", None, None),
        (".well-known/acme-challenge/tok", None, None),
        (".well-known/", None, None),
        (".well-known/.hidden", DOTFILE, None),
        ("docs/.well-known/x", DOTFILE, None),  # only the root one is special
        (".env", NEVER, NEVER),
        (".env.production", NEVER, NEVER),
        (".envrc", NEVER, NEVER),
        ("app/.env", NEVER, NEVER),
        (".env/", NEVER, NEVER),
        (".git/config", NEVER, NEVER),
        (".git/", NEVER, NEVER),
        ("vendor/lib/.git/HEAD", NEVER, NEVER),
        (".ssh/id_rsa", NEVER, NEVER),
        (".well-known/.git/config", NEVER, NEVER),
        (".gitignore", DOTFILE, None),
        (".github/workflows/ci.yml", DOTFILE, None),
        (".htaccess", DOTFILE, None),
        ("css/.hidden", DOTFILE, None),
        ("env", None, None),
        ("git/config", None, None),
        ("a.env", None, None),
        (".faztignore", IGNORED, IGNORED),
        ("sub/.faztignore", DOTFILE, None),
        ("__MACOSX/._index.html", JUNK, JUNK),
        ("img/.DS_Store", JUNK, JUNK),
        ("Thumbs.db", JUNK, JUNK),
    ],
)
def test_refusal(path, default, with_dotfiles):
    assert DEFAULT.refusal(path) == default
    assert DOTS.refusal(path) == with_dotfiles


def test_split_reports_everything_but_junk_sorted():
    paths = ["index.html", ".git/config", "__MACOSX/x", ".env", "a/.b", ".well-known/x"]
    assert DEFAULT.split(paths) == (
        ["index.html", ".well-known/x"],
        [".env", ".git/config", "a/.b"],
    )


def test_faztignore_rules_apply_to_files_and_their_folders():
    rules = IgnoreRules.parse("# comment\n*.log\ndrafts/\n/build/\nsecret.txt\n\n  \n")
    policy = PublishingPolicy(ignore=rules)
    ignored = ["a.log", "sub/deep.log", "drafts/x.md", "sub/drafts/y.md", "build/out.js"]
    ignored += ["secret.txt", "sub/secret.txt"]
    kept = ["drafts.txt", "sub/build/y.js", "index.html", "logs/readme.md", "build.js"]
    for path in ignored:
        assert policy.refusal(path) == IGNORED, path
    for path in kept:
        assert policy.refusal(path) is None, path
    assert rules.matches("drafts/") and not rules.matches("drafts")  # folder-only pattern
    assert rules.matches("build/") and not rules.matches("sub/build/")  # anchored


def test_faztignore_is_case_sensitive_and_bounded():
    rules = IgnoreRules.parse("*.LOG\n")
    assert rules.ignores("a.LOG") and not rules.ignores("a.log")
    many = IgnoreRules.from_bytes(b"".join(b"*.x%d\n" % i for i in range(500)))
    assert len(many.patterns) == 500 and many.ignores("a.x499")  # the CLI drops none


@pytest.mark.parametrize(
    "path",
    [
        ".npmrc",
        ".pypirc",
        ".aws/credentials",
        "certs/server.pem",
        "tls.key",
        "id_rsa",
        "keys/id_ed25519.pub",
        ".env",
        ".git/config",
        "deploy/.ssh/config",
    ],
)
def test_secret_looking(path):
    assert secret_looking(path)


@pytest.mark.parametrize("path", ["index.html", "keyboard.js", "pem.txt", "api/keys.js"])
def test_not_secret_looking(path):
    assert not secret_looking(path)


def test_deployment_paths_are_nfc():
    assert deployment_path("cafe\u0301.html") == "caf\u00e9.html"
    assert deployment_path("caf\u00e9.html") == "caf\u00e9.html"
    assert deployment_path("Index.HTML") == "Index.HTML"  # case is kept
    for bad in ("a//b", "a/./b", "../x", "/abs"):
        with pytest.raises(UnsafePath):
            deployment_path(bad)
