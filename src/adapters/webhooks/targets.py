"""Which hosts a webhook may point at.

In production a webhook pointing at loopback, private, link-local or other
internal addresses would let an admin key probe the internal network from our
side (SSRF): the host is resolved and every address it resolves to must be
public. The check answers the address it validated and the sender connects to
exactly that one, so a DNS answer that changes between the check and the
connection (rebinding) cannot send the request inside. The embedded default
(a newcomer's laptop) and ``PAYMENTS_WEBHOOK_ALLOW_PRIVATE=1`` allow every
address: nothing is resolved or pinned then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from domain.errors import InvalidInput
from domain.webhooks import is_public_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses the system resolver answers for ``host`` (in its order)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ResolvingWebhookTargets:
    """WebhookTargets: refuse hosts that resolve to a non-public address.

    ``resolve`` and ``is_public`` are seams for tests (a made-up name mapped
    to a local receiver); production uses the system resolver and the
    domain's rule.
    """

    def __init__(
        self,
        allow_private: bool,
        resolve: Resolver = resolve_host,
        is_public: Callable[[str], bool] = is_public_address,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._is_public = is_public

    async def check(self, url: str) -> str | None:
        if self._allow_private:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await self._resolve(host, port)
        except (OSError, UnicodeError):
            raise InvalidInput(f"url host {host!r} does not resolve") from None
        private = sorted(a for a in set(addresses) if not self._is_public(a))
        if private or not addresses:
            raise InvalidInput(
                f"url host {host!r} resolves to a non-public address ({', '.join(private)}); "
                "internal targets are refused in production (PAYMENTS_WEBHOOK_ALLOW_PRIVATE=1 "
                "allows them)"
            )
        # Every address passed; a scope suffix (fe80::1%eth0) never does, so
        # the first is a plain literal to connect to.
        return str(ipaddress.ip_address(addresses[0]))
