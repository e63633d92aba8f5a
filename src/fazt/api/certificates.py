"""GET /api/certificates: the state of HTTPS for the dashboard (admin scope; no keys)."""

from fazt.auth.tokens import ApiKey
from fazt.https.report import describe
from fazt.state import ServerState
from fazt.web.http import Request, Response, json_response


async def certificates(state: ServerState, req: Request, key: ApiKey) -> Response:
    info = await state.db.read(describe)
    if state.tls is not None and state.tls.served is not None:
        info["served_names"] = sorted(state.tls.served_names)
    return json_response(info)
