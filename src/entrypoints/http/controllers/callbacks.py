"""Gateway callbacks: authenticated by signature, not by API key."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import PathParameter

from adapters.gateways.families import FAMILIES
from application.receive_callback import ReceiveCallback
from entrypoints.http.schemas import problem_responses


class CallbackController(Controller):
    path = "/callback"
    tags = ["callbacks"]
    security = [{}]

    @post(
        "/{gateway_id:str}",
        operation_id="receiveCallback",
        status_code=200,
        responses=problem_responses(400, 401, 404, 413),
    )
    async def receive(
        self,
        gateway_id: Annotated[str, PathParameter(pattern=r"^[a-z0-9_-]{1,32}$")],
        request: Request[Any, Any, Any],
        receive_callback: NamedDependency[ReceiveCallback],
    ) -> Response[Any]:
        """A gateway's signed notification of a final outcome.

        JSON gateways sign with `X-Signature: t=<unix>,v1=<hex HMAC-SHA256>` over
        `"<t>.<raw body>"` (Stripe's scheme); SOAP gateways send Adyen-style
        `sendNotification` envelopes with an HMAC per item. The callback is
        stored and acknowledged at once (`[accepted]` for SOAP gateways) and
        applied asynchronously. 401 bad or stale signature, 400 malformed,
        404 unknown gateway: nothing is stored or applied.
        """
        body = await request.body()
        received = await receive_callback.execute(gateway_id, request.headers, body)
        answer = FAMILIES.get(received.family).callback_answer
        if answer is not None:  # what the family's PSPs require, byte for byte
            return Response(answer, media_type="text/plain", status_code=200)
        return Response(
            {"received": received.new + received.repeated, "new": received.new},
            status_code=200,
        )
