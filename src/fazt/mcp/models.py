"""Typed results of the MCP tools; they become each tool's output schema.

Fields are those of the JSON API answers; `extra="allow"` keeps fields a newer server
adds, so an older fazt client does not drop them.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class App(_Open):
    name: str
    kind: str
    live_deployment_id: int | None
    file_count: int
    size_bytes: int
    last_deploy_at: str | None
    url: str | None


class AppList(_Open):
    server: str
    apps: list[App]


class Deployment(_Open):
    id: int
    site: str
    state: str
    live: bool
    file_count: int
    size_bytes: int
    manifest: dict[str, Any]
    deployed_by: str | None = None
    created_at: str | None = None
    finalized_at: str | None = None
    live_at: str | None = None


class FileEntry(_Open):
    path: str
    size: int
    mime: str | None = None
    sha256: str | None = None


class AppInfo(App):
    live_deployment: Deployment | None
    files: list[FileEntry]
    files_truncated: bool
    deployments: list[Deployment]


class DeployResult(_Open):
    site: str
    deployment_id: int
    live: bool
    url: str
    file_count: int
    size_bytes: int
    uploaded_files: int
    folder: str


class LogEntry(_Open):
    id: int
    level: str
    message: str
    request_id: str | None = None
    created_at: str


class AppLogs(_Open):
    app: str
    entries: list[LogEntry]


class ServerStatus(_Open):
    server: str
    status: str
    version: str
    uptime_seconds: int | None = None
    backups: list[dict[str, Any]]
    certificates: dict[str, Any] | None  # GET /api/certificates, if the server has it
    notes: list[str]


class CreatedApp(_Open):
    name: str
    template: str
    folder: str
    files: list[str]
    deployed: DeployResult | None


class StorageView(_Open):
    app: str
    what: str
    data: Any


class UpgradeInfo(_Open):
    """The server's answer, passed through (see docs/upgrading.md)."""
