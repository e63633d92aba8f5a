"""Starter app folders shipped in the package (`fazt app create`, the MCP tool)."""

from importlib import resources
from pathlib import Path

TEMPLATES = ("static", "api")


def _files(node, prefix: str = ""):
    for child in node.iterdir():
        if child.name.startswith("__"):  # __init__.py, __pycache__
            continue
        if child.is_dir():
            yield from _files(child, f"{prefix}{child.name}/")
        else:
            yield f"{prefix}{child.name}", child


def write_template(name: str, template: str, target: Path) -> list[str]:
    """Write template `template` for app `name` into `target`; return the files written."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template '{template}': use one of {', '.join(TEMPLATES)}")
    source = resources.files("fazt.templates").joinpath(template)
    written = []
    for rel, entry in sorted(_files(source)):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry.read_text("utf-8").replace("{{name}}", name), "utf-8")
        written.append(rel)
    return written
