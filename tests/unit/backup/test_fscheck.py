"""Detection of filesystems where SQLite's WAL is unsafe, on synthetic mountinfo text."""

from pathlib import Path

from fazt.backup.fscheck import is_unsafe_type, mount_for, parse_mountinfo, unsafe_filesystem

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
60 27 0:50 / /srv/nfs rw,relatime shared:30 - nfs4 server:/export rw,vers=4.2
61 27 0:51 / /mnt/share rw,relatime - cifs //host/share rw
62 27 0:52 / /mnt/vfs rw,relatime - virtiofs myfs rw
63 27 0:53 / /mnt/p9 rw,relatime - 9p hostshare rw,trans=virtio
64 27 0:54 / /home/me/drive rw,nosuid,nodev,relatime - fuse.rclone remote: rw
65 60 254:1 / /srv/nfs/local rw,relatime - ext4 /dev/vdb rw
66 27 0:55 / /mnt/with\\040space rw,relatime - nfs host:/x rw
67 27 0:56 / /mnt/smb rw,relatime - smb3 //h/s rw
"""


def test_parse_mountinfo_fields_and_escapes():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[2].mount_point == "/srv/nfs" and mounts[2].fs_type == "nfs4"
    assert mounts[2].source == "server:/export"  # optional fields before " - " skipped
    assert any(m.mount_point == "/mnt/with space" for m in mounts)


def test_unsafe_types():
    for fs in ("nfs", "nfs4", "cifs", "smb3", "virtiofs", "9p", "fuse", "fuse.sshfs"):
        assert is_unsafe_type(fs), fs
    for fs in ("ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay"):
        assert not is_unsafe_type(fs), fs


def test_longest_mount_point_wins():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_for(Path("/srv/nfs/local/x"), mounts).fs_type == "ext4"
    assert mount_for(Path("/srv/nfs/other"), mounts).fs_type == "nfs4"
    assert mount_for(Path("/srv/nfsish"), mounts).fs_type == "ext4"  # not a path prefix
    assert mount_for(Path("/"), mounts).mount_point == "/"


def test_unsafe_filesystem_for_db_paths():
    cases = {
        "/srv/nfs/fazt/data.db": "nfs4",
        "/mnt/share/data.db": "cifs",
        "/mnt/vfs/data.db": "virtiofs",
        "/mnt/p9/data.db": "9p",
        "/home/me/drive/fazt/data.db": "fuse.rclone",
        "/mnt/with space/data.db": "nfs",
        "/mnt/smb/d/data.db": "smb3",
    }
    for path, fs in cases.items():
        found = unsafe_filesystem(Path(path), MOUNTINFO)
        assert found is not None and found.fs_type == fs, path
    assert unsafe_filesystem(Path("/var/lib/fazt/data.db"), MOUNTINFO) is None
    assert unsafe_filesystem(Path("/srv/nfs/local/data.db"), MOUNTINFO) is None


def test_this_machine_does_not_refuse_tmp(tmp_path):
    # The suite's own databases live under tmp_path; the real check must accept it here
    # (or the whole suite could not start servers).
    assert unsafe_filesystem(tmp_path / "data.db") is None


def test_server_start_refuses_an_unsafe_filesystem(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from fazt.backup import fscheck
    from fazt.cli.main import cli

    fake = tmp_path / "mountinfo"
    fake.write_text(
        f"27 1 0:40 / / rw - ext4 /dev/vda rw\n60 27 0:50 / {tmp_path} rw - nfs4 h:/x rw\n"
    )
    monkeypatch.setattr(fscheck, "MOUNTINFO", fake)
    monkeypatch.setenv("FAZT_HOME", str(tmp_path / "home"))
    db = tmp_path / "data.db"
    result = CliRunner().invoke(cli, ["server", "start", "--db", str(db)])
    assert result.exit_code == 1
    assert "nfs4 filesystem" in result.output and "--allow-unsafe-fs" in result.output
    assert not db.exists()  # refused before anything was created
