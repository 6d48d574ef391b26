"""CONTRACT.md "Strict input": loose amounts and ids are refused at the edge.

Each case went through once: `Decimal()`, `int()` and lax decoding read
Arabic-Indic or fullwidth digits, "+100", " 100", "1_000" or "1e2" as 100,
"1" or 1.0 as user 1, and `/users/%D9%A1/balances` as user 1. All of it runs
through the real app over the in-memory wiring; a refusal is a 400 problem
that records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.http.app import create_app
from entrypoints.sandbox.psp import Sandbox
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
JSON = {**CLIENT, "Content-Type": "application/json"}
XML = {**CLIENT, "Content-Type": "application/xml"}

# Strings Decimal() reads as a number but the contract does not.
LOOSE_AMOUNTS = [
    "\u0661\u0660\u0660",  # Arabic-Indic digits
    "\uff11\uff10\uff10",  # fullwidth digits
    "\u0967\u0966\u0966",  # Devanagari digits
    "\u0661\u0660\u0660.\u0660\u0660",
    "100.\u0660\u0660",
    "+100",
    " 100",
    "100 ",
    "\t100",
    "100\n",
    "1_000",
    "1e2",
    "1E+2",
    "10E-1",
    "100.",
    ".5",
    "1.0.0",
    "--5",
    "NaN",
    "Infinity",
    "",
]
# JSON numbers in exponent form: refused, like the string form.
EXPONENT_NUMBERS = [b"1e2", b"1E2", b"1E+2", b"1.5e1", b"10000e-2", b"-1e2"]
LOOSE_USER_IDS = [b'"1"', b"1.0", b"1e0", b"true", b'"\\u0661"', b"1.5", b"null", b"[1]"]
# Path segments int() reads as an id; the contract wants ASCII digits only.
LOOSE_PATH_IDS = [
    "%D9%A1",  # Arabic-Indic one
    "%EF%BC%91",  # fullwidth one
    "%E0%A5%A7",  # Devanagari one
    "+1",
    "%201",
    "1%20",
    "1%0A",
    "1_0",
    "1.0",
    "-1",
    "0",
]


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    settings = world.container.settings()
    app = create_app(settings, world.container, Sandbox({"paypal": "json"}))
    with TestClient(app) as c:
        yield c


def assert_refused(response: Any, world: World, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    assert world.store.transactions == {}
    assert world.store.commits == 0
    return body


def payment(path: str, amount: bytes, user_id: bytes = b"1") -> bytes:
    extra = b', "destination": {"iban": "DE89370400440532013000"}' if path == "/withdrawal" else b""
    return b'{"user_id": %s, "amount": %s, "currency": "USD"%s}' % (user_id, amount, extra)


def json_string(text: str) -> bytes:
    return json.dumps(text).encode()


# -- amount ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/deposit", "/withdrawal"])
@pytest.mark.parametrize("amount", LOOSE_AMOUNTS)
def test_a_loose_amount_string_is_refused_with_400_and_records_nothing(
    client: TestClient[Any], world: World, path: str, amount: str
) -> None:
    r = client.post(path, content=payment(path, json_string(amount)), headers=JSON)
    body = assert_refused(r, world)
    assert "amount" in body["detail"]


@pytest.mark.parametrize("path", ["/deposit", "/withdrawal"])
@pytest.mark.parametrize("number", EXPONENT_NUMBERS)
def test_an_amount_number_in_exponent_form_is_refused(
    client: TestClient[Any], world: World, path: str, number: bytes
) -> None:
    assert_refused(client.post(path, content=payment(path, number), headers=JSON), world)


@pytest.mark.parametrize(
    "number",
    [b"1.000000000000000001", b"0.10000000000000001", b"99.999999999999999999"],
)
def test_an_amount_number_is_read_exactly_so_hidden_decimals_are_refused(
    client: TestClient[Any], world: World, number: bytes
) -> None:
    """A float would round these to a valid USD amount; read exactly they have too many places."""
    r = client.post("/deposit", content=payment("/deposit", number), headers=JSON)
    assert "decimal places" in assert_refused(r, world, 422)["detail"]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (b'"100"', "100.00"),
        (b'"100.5"', "100.50"),
        (b'"0100.00"', "100.00"),
        (b"100", "100.00"),
        (b"100.10", "100.10"),
        (b"1234567890123.45", "1234567890123.45"),
    ],
)
def test_plain_amounts_as_strings_or_numbers_are_still_accepted(
    client: TestClient[Any], amount: bytes, shown: str
) -> None:
    r = client.post("/deposit", content=payment("/deposit", amount), headers=JSON)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == shown


# -- user_id ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/deposit", "/withdrawal"])
@pytest.mark.parametrize("user_id", LOOSE_USER_IDS)
def test_a_user_id_that_is_not_a_json_integer_is_refused(
    client: TestClient[Any], world: World, path: str, user_id: bytes
) -> None:
    r = client.post(path, content=payment(path, b'"1.00"', user_id), headers=JSON)
    assert "user_id" in assert_refused(r, world)["detail"]


@pytest.mark.parametrize("segment", LOOSE_PATH_IDS)
def test_a_balances_path_id_that_is_not_ascii_digits_is_refused(
    client: TestClient[Any], world: World, segment: str
) -> None:
    r = client.get(f"/users/{segment}/balances", headers=CLIENT)
    assert "user_id" in assert_refused(r, world)["detail"]


@pytest.mark.parametrize("segment", ["%D9%A7", "%EF%BC%97", "+7", "%207", "7%0A", "7_0"])
def test_a_user_path_id_that_is_not_ascii_digits_creates_no_user(
    client: TestClient[Any], world: World, segment: str
) -> None:
    before = dict(world.store.users)
    r = client.put(f"/users/{segment}", json={"country": "US"}, headers=ADMIN)
    assert_refused(r, world)
    assert world.store.users == before


def test_ascii_digit_path_ids_still_work(client: TestClient[Any], world: World) -> None:
    assert client.get("/users/1/balances", headers=CLIENT).status_code == 200
    assert client.get("/users/01/balances", headers=CLIENT).status_code == 200
    r = client.put("/users/7", json={"country": "US"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert 7 in world.store.users


@pytest.mark.parametrize(
    "query",
    [
        "user_id=1.0",
        "user_id=1e0",
        "user_id=%2B1",
        "user_id=%D9%A1",
        "user_id=%201",
        "limit=1e1",
        "limit=5.0",
        "limit=%EF%BC%95",
        "limit=%205",
        "limit=0",
        "limit=201",
    ],
)
def test_an_integer_query_parameter_that_is_not_ascii_digits_is_refused(
    client: TestClient[Any], world: World, query: str
) -> None:
    assert_refused(client.get(f"/transactions?{query}", headers=CLIENT), world)


def test_ascii_digit_query_parameters_still_work(client: TestClient[Any]) -> None:
    r = client.get("/transactions?user_id=1&limit=5", headers=CLIENT)
    assert r.status_code == 200, r.text
    assert client.get("/transactions", headers=CLIENT).status_code == 200


@pytest.mark.parametrize("query", ["limit=1e1", "limit=5.0", "limit=%D9%A5"])
def test_the_reconciliation_limit_is_ascii_digits_only(
    client: TestClient[Any], world: World, query: str
) -> None:
    assert_refused(client.get(f"/reconciliation/issues?{query}", headers=ADMIN), world)
    assert client.get("/reconciliation/issues?limit=5", headers=ADMIN).status_code == 200


# -- the XML form ----------------------------------------------------------------


def xml_payment(amount: str = "100.00", user_id: str = "1") -> bytes:
    return (
        f"<transaction><user_id>{user_id}</user_id><amount>{amount}</amount>"
        "<currency>USD</currency></transaction>"
    ).encode()


@pytest.mark.parametrize(
    "amount",
    [
        "\u0661\u0660\u0660",
        "&#x661;&#x660;&#x660;",  # the same digits as character references
        "\uff11\uff10\uff10",
        "+100",
        " 100",
        "100 ",
        "\n100\n",
        "1_000",
        "1e2",
        "100.",
    ],
)
def test_a_loose_amount_in_xml_is_refused(
    client: TestClient[Any], world: World, amount: str
) -> None:
    r = client.post("/deposit", content=xml_payment(amount=amount), headers=XML)
    assert "amount" in assert_refused(r, world)["detail"]


@pytest.mark.parametrize("user_id", [" 1", "1 ", "\n1\n", "1.0", "1e0", "+1", "&#x661;", "\u0661"])
def test_a_loose_user_id_in_xml_is_refused(
    client: TestClient[Any], world: World, user_id: str
) -> None:
    r = client.post("/deposit", content=xml_payment(user_id=user_id), headers=XML)
    assert "user_id" in assert_refused(r, world)["detail"]


def test_indented_xml_is_still_accepted(client: TestClient[Any]) -> None:
    body = (
        b"<?xml version='1.0'?>\n<transaction>\n  <user_id>1</user_id>\n"
        b"  <amount>5.50</amount>\n  <currency>USD</currency>\n</transaction>\n"
    )
    r = client.post("/deposit", content=body, headers=XML)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "5.50"


# -- what the OpenAPI document promises ------------------------------------------


def test_the_openapi_document_keeps_amount_string_or_number_and_ids_integer(
    client: TestClient[Any],
) -> None:
    doc = client.get("/schema/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for path in ("/deposit", "/withdrawal"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        props = schemas[body["schema"]["$ref"].rpartition("/")[2]]["properties"]
        kinds = {s["type"] for s in props["amount"]["oneOf"]}
        assert kinds == {"string", "number"}
        assert props["user_id"]["type"] == "integer"
    for path, method in (("/users/{user_id}/balances", "get"), ("/users/{user_id}", "put")):
        (param,) = doc["paths"][path][method]["parameters"]
        assert (param["name"], param["schema"]["type"]) == ("user_id", "integer")
    listing = {p["name"]: p["schema"] for p in doc["paths"]["/transactions"]["get"]["parameters"]}
    assert listing["limit"]["type"] == "integer"
    assert {s["type"] for s in listing["user_id"]["oneOf"]} == {"integer", "null"}


@pytest.mark.parametrize("priority", ['"1"', "1.0", "true"])
def test_a_route_priority_that_is_not_a_json_integer_is_refused(
    client: TestClient[Any], priority: str
) -> None:
    body = f'[{{"gateway_id": "paypal", "priority": {priority}}}]'
    answer = client.put(
        "/countries/US/gateways",
        content=body,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    order = client.get("/countries/US/gateways", headers=ADMIN).json()
    assert all(isinstance(row["priority"], int) for row in order)
