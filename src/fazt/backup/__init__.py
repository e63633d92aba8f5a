"""Backups (online snapshots, verify, restore), schedules and Litestream replication."""

from fazt.backup.snapshot import (
    BackupError,
    backup_before,
    create_snapshot,
    default_backup_dir,
    list_backups,
    restore_snapshot,
    verify_snapshot,
)

__all__ = [
    "BackupError",
    "backup_before",
    "create_snapshot",
    "default_backup_dir",
    "list_backups",
    "restore_snapshot",
    "verify_snapshot",
]
