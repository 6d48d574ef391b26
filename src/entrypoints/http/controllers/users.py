"""Users: create or move them (admin key), read their balances (client key)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from application.get_balances import GetBalances
from application.upsert_user import UpsertUser
from entrypoints.http.auth import admin_guard, client_guard
from entrypoints.http.params import digits, integer_schema
from entrypoints.http.schemas import BalanceOut, UserBody, UserOut, balance_out, problem_responses
from entrypoints.http.strict_json import StrictJsonRequest

# A string to Litestar, read by `digits`: a `{user_id:int}` route read
# "%D9%A1" (Arabic-Indic one) with int(), as user 1.
UserIdPath = Annotated[str, PathParameter(schema_extra=integer_schema())]


class UserController(Controller):
    path = "/users"
    # Balances are money: no cache may keep them.
    cache_control = CacheControlHeader(no_store=True)
    tags = ["users"]
    request_class = StrictJsonRequest

    @put(
        "/{user_id:str}",
        operation_id="upsertUser",
        guards=[admin_guard],
        responses={
            201: ResponseSpec(UserOut, description="User created"),
            **problem_responses(400, 401, 403, 422),
        },
    )
    async def upsert_user(
        self,
        user_id: UserIdPath,
        data: JSONBody[UserBody],
        upsert_user: NamedDependency[UpsertUser],
    ) -> Response[UserOut]:
        """Create the user (201) or move them to another configured country (200)."""
        result = await upsert_user.execute(digits(user_id, "user_id"), data.country)
        body = UserOut(user_id=result.user.id, country=result.user.country.value)
        return Response(body, status_code=201 if result.created else 200)

    @get(
        "/{user_id:str}/balances",
        operation_id="getBalances",
        guards=[client_guard],
        responses=problem_responses(400, 401, 404),
    )
    async def balances(
        self, user_id: UserIdPath, get_balances: NamedDependency[GetBalances]
    ) -> list[BalanceOut]:
        """Available and held balance per currency (held = withdrawals in flight)."""
        return [balance_out(b) for b in await get_balances.execute(digits(user_id, "user_id"))]
