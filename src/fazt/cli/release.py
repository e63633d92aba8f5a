"""`fazt release ...`: maintainer commands to make signed releases."""

from pathlib import Path

import click

from fazt.cli.common import fail, json_option, print_json


@click.group()
def release() -> None:
    """Build and sign releases (for maintainers; upgrades use what this makes)."""


@release.command()
@click.option(
    "--out",
    "key_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to write the private key (PEM, mode 0600); keep it off the servers.",
)
def keygen(key_path: Path) -> None:
    """Create an Ed25519 signing key (private, mode 0600); print its public key."""
    from fazt.release import signing

    try:
        public = signing.generate_key(key_path)
    except FileExistsError:
        fail(f"{key_path} already exists; not overwriting a key")
    except OSError as exc:
        fail(f"cannot write {key_path}: {exc}")
    click.echo(public)


@release.command()
@click.option("--version", "version", required=True, help="The version to build, X.Y.Z.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Private signing key (PEM) from `fazt release keygen`.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for the artifact, releases.json and its .sig (other versions there stay).",
)
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="The fazt checkout to build.",
)
@click.option(
    "--trust-signing-key",
    is_flag=True,
    help="Make the built release also trust this key for its own upgrades (tests, forks).",
)
@json_option
def build(version, key_path, out_dir, source, trust_signing_key, as_json) -> None:
    """Build this platform's artifact, add it to the index and sign the index."""
    from fazt.release.build import build_release

    def progress(line: str) -> None:
        if not as_json:
            click.echo(line, err=True)

    try:
        artifact = build_release(
            source.resolve(),
            version,
            key_path,
            out_dir,
            trust_signing_key=trust_signing_key,
            progress=progress,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(f"release build failed: {exc}")
    result = {
        "version": version,
        "artifact": str(artifact),
        "index": str(out_dir / "releases.json"),
    }
    if as_json:
        print_json(result)
    else:
        click.echo(f"built {artifact}")
