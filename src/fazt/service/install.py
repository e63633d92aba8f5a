"""`fazt service install` / `uninstall` as a list of steps: printed by --dry-run, run
otherwise. Each step says what it does; the first failure stops the install and says
which step failed and why (the original discarded these errors)."""

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fazt.service.unit import SERVICE_NAME, UNIT_PATH, ServiceConfig, render

BIN_LINK = Path("/usr/local/bin/fazt")


class InstallError(Exception):
    """A step that failed; the message names the step and the reason."""


@dataclass(frozen=True)
class Step:
    description: str
    run: Callable[[], str | None]  # returns extra output to show, if any


def run_command(*args: str, **kwargs) -> str:
    """Run a system command; raise InstallError with its output if it fails."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    except OSError as exc:
        raise InstallError(f"cannot run {args[0]}: {exc}") from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise InstallError(f"`{' '.join(args)}` exited {result.returncode}: {output}")
    return result.stdout


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, user: str) -> None:
    uid, gid = _ids(user)
    os.chown(path, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def preflight(cfg: ServiceConfig) -> None:
    """Refuse before changing anything when the install cannot work."""
    if not cfg.executable.exists():
        raise InstallError(
            f"no fazt release at {cfg.executable}: install one first with install.sh "
            "(or give the install root with --root)"
        )
    for tool in ("systemctl", "useradd", "setpriv"):
        if not shutil.which(tool):
            raise InstallError(f"{tool} is not available on this machine")


def install_steps(
    cfg: ServiceConfig, version: str, unit_path: Path = UNIT_PATH, bin_link: Path = BIN_LINK
) -> list[Step]:
    """Everything `service install` does, in order. Re-running it is safe."""
    data, root, user = cfg.data_dir, cfg.install_root, cfg.user
    db = data / "data.db"

    def create_user() -> str | None:
        if user_exists(user):
            return f"user '{user}' exists"
        run_command(
            "useradd", "--system", "--user-group", "--home-dir", str(data), "--no-create-home",
            "--shell", "/usr/sbin/nologin", "--comment", "fazt service", user,
        )  # fmt: skip
        return None

    def data_dir() -> None:
        data.mkdir(parents=True, exist_ok=True)
        uid, gid = _ids(user)
        os.chown(data, uid, gid)
        data.chmod(0o750)

    def releases() -> None:
        (root / "releases").mkdir(exist_ok=True)
        _chown_tree(root, user)

    def link() -> None:
        target = cfg.executable
        if bin_link.is_symlink() or not bin_link.exists():
            tmp = bin_link.with_name(".fazt.link")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            os.replace(tmp, bin_link)
        else:
            raise InstallError(f"{bin_link} exists and is not a link: move it away first")

    def init_db() -> str | None:
        if db.exists():
            return f"keeping the existing database {db}"
        uid, gid = _ids(user)
        env = {"PATH": "/usr/bin:/bin", "FAZT_HOME": str(data), "LANG": "C.UTF-8"}
        # As the service user, so that every file it creates belongs to the service.
        # setpriv (util-linux) drops root the way a login would: uid, gid, no groups.
        return run_command(
            "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
            str(cfg.executable), "server", "init", "--domain", cfg.domain,
            "--port", str(cfg.api_port), "--db", str(db),
            env=env, cwd=data, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def write_unit() -> None:
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = unit_path.with_suffix(".tmp")
        tmp.write_text(render(cfg, version))
        tmp.chmod(0o644)
        os.replace(tmp, unit_path)

    return [
        Step(f"create the system user '{user}' (no login shell, home {data})", create_user),
        Step(f"create the data directory {data} (owner {user}, mode 0750)", data_dir),
        Step(f"give {root} (releases and the current link) to {user}", releases),
        Step(f"link {bin_link} -> {cfg.executable}", link),
        Step(f"initialise the database {db} as {user}", init_db),
        Step(f"write {unit_path}", write_unit),
        Step("systemctl daemon-reload", lambda: run_command("systemctl", "daemon-reload")),
        Step(
            f"systemctl enable {SERVICE_NAME}",
            lambda: run_command("systemctl", "enable", "--quiet", SERVICE_NAME),
        ),
        Step(
            f"systemctl restart {SERVICE_NAME}",
            lambda: run_command("systemctl", "restart", SERVICE_NAME),
        ),
    ]


def uninstall_steps(cfg: ServiceConfig, purge: bool, unit_path: Path = UNIT_PATH) -> list[Step]:
    """Stop and remove the service; data and releases stay unless `purge`."""

    def stop() -> None:
        if shutil.which("systemctl") and unit_path.exists():
            run_command("systemctl", "disable", "--now", "--quiet", SERVICE_NAME)

    def remove_unit() -> None:
        unit_path.unlink(missing_ok=True)
        if shutil.which("systemctl"):
            run_command("systemctl", "daemon-reload")

    def remove_link() -> None:
        if BIN_LINK.is_symlink() and str(os.readlink(BIN_LINK)).startswith(str(cfg.install_root)):
            BIN_LINK.unlink()

    steps = [
        Step(f"stop and disable {SERVICE_NAME}", stop),
        Step(f"remove {unit_path} and reload systemd", remove_unit),
        Step(f"remove the link {BIN_LINK}", remove_link),
    ]
    if purge:

        def remove_user() -> None:
            if user_exists(cfg.user):
                run_command("userdel", cfg.user)
            try:
                grp.getgrnam(cfg.user)
                run_command("groupdel", cfg.user)
            except KeyError:
                pass

        steps += [
            Step(
                f"delete {cfg.data_dir} (the database and backups)",
                lambda: (
                    shutil.rmtree(cfg.data_dir, ignore_errors=False)
                    if cfg.data_dir.exists()
                    else None
                ),
            ),
            Step(
                f"delete {cfg.install_root} (all releases)",
                lambda: shutil.rmtree(cfg.install_root) if cfg.install_root.exists() else None,
            ),
            Step(f"delete the user '{cfg.user}'", remove_user),
        ]
    return steps


def run_steps(steps: list[Step], say: Callable[[str], None]) -> None:
    """Run steps in order, printing each; raise InstallError naming the failed step."""
    for number, step in enumerate(steps, 1):
        say(f"==> [{number}/{len(steps)}] {step.description}")
        try:
            extra = step.run()
        except InstallError as exc:
            raise InstallError(f"step {number} ({step.description}) failed: {exc}") from None
        except OSError as exc:
            raise InstallError(f"step {number} ({step.description}) failed: {exc}") from None
        if extra:
            for line in str(extra).strip().splitlines():
                say(f"    {line}")
