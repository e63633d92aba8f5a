"""`fazt release build`: one artifact per platform, the index, and its signature.

The artifact is a tarball of wheels (fazt and every dependency for this platform and
Python), so installing it needs no package registry: `pip install --no-index`.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fazt.release import index, keys, signing

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+([.+-][0-9A-Za-z.]+)?$")
SOURCE_FILES = ["pyproject.toml", "README.md", "src"]


def artifact_name(version: str, tag: str) -> str:
    return f"fazt-{version}-{tag}.tar.gz"


def build_release(
    source: Path,
    version: str,
    key_path: Path,
    out_dir: Path,
    *,
    trust_signing_key: bool = False,
    progress: Callable[[str], None] = print,
) -> Path:
    """Build the artifact for this platform into `out_dir`; add it to the signed index."""
    if not VERSION_RE.match(version):
        raise ValueError(f"bad version {version!r}: use X.Y.Z")
    key = signing.load_private_key(key_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = index.platform_tag()
    with tempfile.TemporaryDirectory(prefix="fazt-release-") as tmp:
        tree = _prepare_source(source, Path(tmp) / "src", version, key, trust_signing_key)
        top = Path(tmp) / f"fazt-{version}"
        wheels = top / "wheels"
        progress(f"building wheels for fazt {version} and its dependencies ({tag})")
        _build_wheels(tree, wheels, out_dir / ".wheel-cache")
        manifest = {"name": "fazt", "version": version, "platform": tag, "python": _py_tag()}
        (top / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
        artifact = out_dir / artifact_name(version, tag)
        progress(f"writing {artifact}")
        with tarfile.open(artifact, "w:gz") as tar:
            tar.add(top, arcname=top.name)
    _add_to_index(out_dir, version, tag, artifact, key)
    progress(f"signed {out_dir / 'releases.json'}")
    return artifact


def _prepare_source(source: Path, tree: Path, version: str, key, trust_signing_key: bool) -> Path:
    for name in SOURCE_FILES:
        if not (source / name).exists():
            raise ValueError(f"{source} is not a fazt checkout (no {name})")
    tree.mkdir()
    shutil.copy2(source / "pyproject.toml", tree)
    shutil.copy2(source / "README.md", tree)
    shutil.copytree(
        source / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    init = tree / "src/fazt/__init__.py"
    text = re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', init.read_text())
    init.write_text(text)
    extra = tree / "src/fazt/release" / keys.EXTRA_KEYS_FILE.name
    extra.unlink(missing_ok=True)
    if trust_signing_key:
        signer = signing.public_key_b64(key)
        extra.write_text(f"# trusted because this build was signed with it\n{signer}\n")
    return tree


def _build_wheels(tree: Path, wheels: Path, cache: Path) -> None:
    """Wheels of fazt and its dependencies; dependencies (and the build backend, which
    pip needs to build fazt's own wheel) come from the cache of earlier builds into the
    same folder when it has them all, else from the package index."""
    try:
        _pip(
            "wheel",
            "--quiet",
            "--no-index",
            "--find-links",
            str(cache),
            "-w",
            str(wheels),
            str(tree),
        )
    except RuntimeError:
        _pip("wheel", "--quiet", "-w", str(wheels), str(tree))
        # Without the backend in the cache, the next build would go to the index again:
        # 13 s instead of 7 s here.
        cache.mkdir(exist_ok=True)
        _pip("download", "--quiet", "--only-binary", ":all:", "-d", str(cache), *_backend(tree))
    # pip's own wheel, so that installing needs no pip on the target (see install.py).
    pip_args = ["download", "--quiet", "--only-binary", ":all:", "--no-deps", "-d", str(wheels)]
    try:
        _pip(*pip_args, "--no-index", "--find-links", str(cache), "pip")
    except RuntimeError:
        _pip(*pip_args, "pip")
    cache.mkdir(exist_ok=True)
    for wheel in wheels.glob("*.whl"):
        if not wheel.name.startswith("fazt-"):
            shutil.copy2(wheel, cache / wheel.name)


def _backend(tree: Path) -> list[str]:
    """The build system's requirements in pyproject.toml (setuptools here)."""
    with (tree / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["build-system"]["requires"]


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip {args[0]} failed:\n{result.stdout}{result.stderr}")


def _py_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add_to_index(out_dir: Path, version: str, tag: str, artifact: Path, key) -> None:
    path = out_dir / "releases.json"
    data = json.loads(path.read_text()) if path.exists() else {"name": "fazt", "releases": []}
    entry = next((r for r in data["releases"] if r["version"] == version), None)
    if entry is None:
        entry = {"version": version, "artifacts": {}}
        data["releases"].append(entry)
    entry["published_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry["artifacts"][tag] = {
        "file": artifact.name,
        "url": artifact.name,  # relative to the index: the folder can be hosted anywhere
        "size": artifact.stat().st_size,
        "sha256": sha256_file(artifact),
    }
    data["releases"].sort(key=lambda r: index.version_key(r["version"]), reverse=True)
    raw = (json.dumps(data, indent=2) + "\n").encode()
    path.write_bytes(raw)
    (out_dir / "releases.json.sig").write_bytes(signing.sign(raw, key))
