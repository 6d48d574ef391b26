"""In-memory EventOutbox."""

from __future__ import annotations

from adapters.memory.store import Staged
from application.ports import GatewayCallback


class MemoryOutbox:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    async def put_callback(self, callback: GatewayCallback) -> None:
        self._staged.callbacks_out.append(callback)
