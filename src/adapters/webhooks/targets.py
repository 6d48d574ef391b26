"""Which hosts a webhook may point at.

In production a webhook pointing at loopback, private, link-local or other
internal addresses would let an admin key probe the internal network from our
side (SSRF): the host is resolved and every address it resolves to must be
public. The embedded default (a newcomer's laptop) and
``PAYMENTS_WEBHOOK_ALLOW_PRIVATE=1`` allow them.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from domain.errors import InvalidInput
from domain.webhooks import is_public_address


class ResolvingWebhookTargets:
    """WebhookTargets: refuse hosts that resolve to a non-public address."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def check(self, url: str) -> None:
        if self._allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidInput(f"url host {host!r} does not resolve") from None
        addresses = {str(info[4][0]) for info in infos}
        private = sorted(a for a in addresses if not is_public_address(a))
        if private or not addresses:
            raise InvalidInput(
                f"url host {host!r} resolves to a non-public address ({', '.join(private)}); "
                "internal targets are refused in production (PAYMENTS_WEBHOOK_ALLOW_PRIVATE=1 "
                "allows them)"
            )
