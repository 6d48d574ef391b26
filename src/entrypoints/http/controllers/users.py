"""Users (admin key): create a user or move them to another country."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.upsert_user import UpsertUser
from entrypoints.http.auth import admin_guard
from entrypoints.http.schemas import UserBody, UserOut


class UserController(Controller):
    path = "/users"
    tags = ["users"]
    guards = [admin_guard]

    @put("/{user_id:int}", operation_id="upsertUser")
    async def upsert_user(
        self,
        user_id: Annotated[int, PathParameter(ge=1, le=2**63 - 1)],
        data: JSONBody[UserBody],
        upsert_user: NamedDependency[UpsertUser],
    ) -> Response[UserOut]:
        """Create the user (201) or move them to another configured country (200)."""
        result = await upsert_user.execute(user_id, data.country)
        body = UserOut(user_id=result.user.id, country=result.user.country.value)
        return Response(body, status_code=201 if result.created else 200)
