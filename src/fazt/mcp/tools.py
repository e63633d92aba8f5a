"""The MCP tools: each one calls a fazt server's JSON API with the token `fazt mcp` holds.

Tools are plain (synchronous) methods; the SDK runs them on worker threads, so the
blocking HTTP client never stalls the protocol loop. A failure raises ToolError with
the same message the CLI prints, and the agent sees it as a tool error (isError).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.mcp.models import (
    App,
    AppInfo,
    AppList,
    AppLogs,
    CreatedApp,
    Deployment,
    DeployResult,
    ServerStatus,
    StorageView,
    UpgradeInfo,
)
from fazt.remote.client import ApiError, FaztClient
from fazt.remote.deploy import DeployInputError, deploy_files, files_to_deploy, resolve_site_name
from fazt.templates import write_template

MAX_FILES_LISTED = 200  # app_info lists at most this many files of the live deployment

AppName = Annotated[str, Field(description="The app (site) name, e.g. 'blog'.")]

ReleaseUrl = Annotated[
    str | None,
    Field(description="Release index URL (releases.json); default: the server's release_url."),
]


def _app_path(app: str, rest: str = "") -> str:
    # Quoted: an agent-supplied name must not be able to reach another route ("../").
    return f"/api/apps/{quote(app, safe='')}{rest}"


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:  # with the next step for a server down or a refused token
        raise ToolError(str(exc) + exc.next_step("the token `fazt mcp` uses")) from None
    except DeployInputError as exc:
        raise ToolError(str(exc)) from None


class FaztTools:
    """The tools, bound to one server (a FaztClient with its URL and token)."""

    def __init__(self, client: FaztClient) -> None:
        self.client = client

    def list_apps(self) -> AppList:
        """List the apps deployed on the fazt server: name, URL, size, live deployment and
        time of the last deploy."""
        with _as_tool_errors():
            apps = self.client.get("/api/apps")
        return AppList(server=self.client.url, apps=[App(**a) for a in apps])

    def app_info(self, app: AppName) -> AppInfo:
        """One app in detail: its URL, the live deployment with its manifest and files, and
        the deployment history (newest first; ids usable with `rollback`)."""
        with _as_tool_errors():
            info = self.client.get(_app_path(app))
            history = self.client.get(_app_path(app, "/deployments"))
        files = info.pop("files", [])
        return AppInfo(
            **info,
            files=files[:MAX_FILES_LISTED],
            files_truncated=len(files) > MAX_FILES_LISTED,
            deployments=history,
        )

    def deploy_folder(
        self,
        path: Annotated[
            str,
            Field(
                description="A local folder (absolute, or relative to "
                "the directory `fazt mcp` runs in)."
            ),
        ],
        name: Annotated[
            str | None,
            Field(description="Site name; default: manifest.json's `name`, else the folder name."),
        ] = None,
        preview: Annotated[
            bool, Field(description="Publish without going live; the answer has a preview URL.")
        ] = False,
        include_dotfiles: Annotated[
            bool, Field(description="Also upload files whose name starts with '.'.")
        ] = False,
    ) -> DeployResult:
        """Deploy a local folder as a site, exactly like `fazt deploy`: only files the server
        does not have yet are uploaded, then the new version goes live in one step (or
        stays a preview). Static files are served as they are; JavaScript under `api/` is
        serverless code (see the resource fazt://docs/serverless.md)."""
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise ToolError(f"{folder} is not a folder")
        with _as_tool_errors():
            site = resolve_site_name(folder, name, how_to_choose="the `name` input")
            files = files_to_deploy(folder, include_dotfiles)
            result = deploy_files(
                self.client, site, files, preview=preview, include_dotfiles=include_dotfiles
            )
        return DeployResult(**result, folder=str(folder))

    def rollback(
        self,
        app: AppName,
        deployment_id: Annotated[
            int | None,
            Field(
                description="Deployment to make live; default: the one live before the current one."
            ),
        ] = None,
    ) -> Deployment:
        """Make an earlier deployment of an app live again (no upload; instant). Returns the
        deployment that is now live."""
        body = {} if deployment_id is None else {"deployment_id": deployment_id}
        with _as_tool_errors():
            return Deployment(**self.client.post(_app_path(app, "/rollback"), json=body))

    def app_logs(
        self,
        app: AppName,
        limit: Annotated[int, Field(ge=1, le=1000, description="How many lines.")] = 100,
        after: Annotated[
            int | None,
            Field(
                ge=0, description="Only lines with an id above this one (to poll for new lines)."
            ),
        ] = None,
    ) -> AppLogs:
        """Read an app's serverless logs (console.*, fazt.log.* and runtime errors), oldest
        first: the newest `limit` lines, or the lines after id `after`."""
        params: dict[str, int] = {"limit": limit}
        if after is not None:
            params["after"] = after
        with _as_tool_errors():
            entries = self.client.get(_app_path(app, "/logs"), params=params)
        return AppLogs(app=app, entries=entries)

    def server_status(self) -> ServerStatus:
        """The server's health and version, its backups and (when the server has a
        certificate API) its HTTPS certificates. Needs an admin token."""
        notes: list[str] = []
        with _as_tool_errors():
            health = self.client.get("/health")
            backups = self.client.get("/api/backups")
            try:
                certificates = self.client.get("/api/certificates")
            except ApiError as exc:
                if exc.status != 404 or exc.code != "NOT_FOUND":
                    raise
                certificates = None
                notes.append("this server has no certificate API (GET /api/certificates)")
        return ServerStatus(
            server=self.client.url,
            **health,
            backups=backups,
            certificates=certificates,
            notes=notes,
        )

    def create_app_from_template(
        self,
        name: AppName,
        template: Annotated[
            Literal["static", "api"],
            Field(
                description="static: one page. api: a page with a serverless visit counter "
                "(api/visits.js using fazt.storage.kv)."
            ),
        ] = "static",
        folder: Annotated[
            str | None,
            Field(description="Where to write it (must not exist or be empty); default: ./NAME."),
        ] = None,
        deploy: Annotated[bool, Field(description="Deploy the new folder right away.")] = False,
    ) -> CreatedApp:
        """Write a new, ready-to-deploy app folder from a template (like `fazt app create`),
        and optionally deploy it."""
        try:
            validate_site_name(name)
        except InvalidSiteName as exc:
            raise ToolError(f"cannot create '{name}': {exc}") from None
        target = Path(folder or name).expanduser().resolve()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise ToolError(f"{target} already exists and is not an empty folder")
        written = _write_template(name, template, target)
        deployed = None
        if deploy:
            try:
                deployed = self.deploy_folder(str(target), name)
            except ToolError as exc:
                raise ToolError(f"created {target}, but deploying it failed: {exc}") from None
        return CreatedApp(
            name=name, template=template, folder=str(target), files=written, deployed=deployed
        )

    def query_storage(
        self,
        app: AppName,
        what: Annotated[
            Literal["summary", "kv", "collection", "objects"],
            Field(
                description="summary: counts per store; kv: keys and values; collection: "
                "documents of one collection; objects: stored object metadata."
            ),
        ] = "summary",
        collection: Annotated[
            str | None, Field(description="The collection, for what=collection.")
        ] = None,
        prefix: Annotated[str, Field(description="Key or path prefix, for kv and objects.")] = "",
        limit: Annotated[int, Field(ge=0, description="Page size, for collection.")] = 50,
        offset: Annotated[int, Field(ge=0, description="Skip this many, for collection.")] = 0,
    ) -> StorageView:
        """Read an app's storage (fazt.storage kv, documents, objects); read-only."""
        if what == "collection":
            if not collection:
                raise ToolError("what=collection needs the `collection` input")
            path = _app_path(app, f"/storage/collections/{quote(collection, safe='')}")
            params: dict[str, Any] = {"limit": limit, "offset": offset}
        elif what == "summary":
            path, params = _app_path(app, "/storage"), {}
        else:
            path, params = _app_path(app, f"/storage/{what}"), {"prefix": prefix}
        with _as_tool_errors():
            data = self.client.get(path, params=params)
        return StorageView(app=app, what=what, data=data)

    def check_upgrade(self, url: ReleaseUrl = None) -> UpgradeInfo:
        """Ask the server whether a newer fazt release is available (changes nothing):
        current and latest version, and whether an update is available. Needs an admin
        token."""
        with _as_tool_errors():
            answer = self.client.post(
                "/api/upgrade", params={"check": "true"}, json=_upgrade_body(None, url)
            )
        return UpgradeInfo(**answer)

    def start_upgrade(
        self,
        confirm: Annotated[
            bool,
            Field(description="Must be true: the server replaces its own version and restarts."),
        ] = False,
        version: Annotated[
            str | None,
            Field(description="A specific version (also a lower one); default: the newest."),
        ] = None,
        url: ReleaseUrl = None,
    ) -> UpgradeInfo:
        """Start upgrading the fazt server (download, verify, install, restart; rolled back
        automatically if the new version fails its health check). Requires confirm=true
        and an admin token. Follow it with `upgrade_status`."""
        if confirm is not True:
            raise ToolError(
                "start_upgrade replaces the server's version and restarts it: call it again "
                "with confirm: true to proceed (check_upgrade shows what would be installed)"
            )
        with _as_tool_errors():
            return UpgradeInfo(**self.client.post("/api/upgrade", json=_upgrade_body(version, url)))

    def upgrade_status(
        self, upgrade_id: Annotated[int | str, Field(description="The id start_upgrade returned.")]
    ) -> UpgradeInfo:
        """Progress of an upgrade: status (pending ... committed, rolled_back, failed),
        steps so far, and whether it has finished."""
        with _as_tool_errors():
            return UpgradeInfo(**self.client.get(f"/api/upgrade/{quote(str(upgrade_id), safe='')}"))


def _upgrade_body(version: str | None, url: str | None) -> dict[str, str]:
    body = {"version": version, "url": url}
    return {k: v for k, v in body.items() if v}


def _write_template(name: str, template: str, target: Path) -> list[str]:
    """The same files `fazt app create` writes."""
    try:
        return write_template(name, template, target)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
