"""GET /health: liveness and version, public; and the worker restarts of the last hour
(a crash loop shows here: the supervisor tells each worker its predecessors' deaths)."""

import time

from fazt.state import ServerState
from fazt.web.handover import recent_restarts
from fazt.web.http import Request, Response, json_response


async def health(state: ServerState, req: Request, key: object) -> Response:
    restarts = recent_restarts()
    last = restarts[-1] if restarts else None
    return json_response(
        {
            "status": "ok",
            "version": state.version,
            "uptime_seconds": int(time.time() - state.started),
            "instance": state.instance,
            "restarts_last_hour": len(restarts),
            "last_restart": last and {"at": int(last[0]), "exit_code": last[1]},
        }
    )
