"""GET /health: liveness and version, public."""

import time

from fazt.state import ServerState
from fazt.web.http import Request, Response, json_response


async def health(state: ServerState, req: Request, key: object) -> Response:
    return json_response(
        {
            "status": "ok",
            "version": state.version,
            "uptime_seconds": int(time.time() - state.started),
            "instance": state.instance,
        }
    )
