"""XML on /deposit and /withdrawal through XmlMiddleware, over in-memory adapters.

app.py does not install the middleware yet, so the real app is wrapped here;
a small Litestar app checks the `xml_middleware` route-level installation too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import xmltodict
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import TestClient
from litestar.types import Message, Receive, Scope, Send

from application.deposit import DepositCommand
from application.settle import FinalStatus, SettleCommand
from entrypoints.http.app import create_app
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.schemas import PaymentRequest
from entrypoints.http.xml import XmlMiddleware, xml_middleware
from entrypoints.http.xml_encode import prefers_xml as _prefers_xml
from entrypoints.sandbox.psp import Sandbox
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
XML_BODY = {**CLIENT, "Content-Type": "application/xml"}
WANTS_XML = {"Accept": "application/xml"}
DEPOSIT_XML = (
    b"<transaction><user_id>1</user_id><amount>100.00</amount>"
    b"<currency>USD</currency></transaction>"
)
# Fields that differ between two otherwise identical deposits.
PER_TRANSACTION = {"transaction_id", "created_at", "updated_at", "reference_id", "redirect_url"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    settings = world.container.settings()
    app = create_app(settings, world.container, Sandbox({"paypal": "json"}))
    # TestClient takes any ASGI app; the lifespan scope passes straight
    # through the middleware, so Litestar's resources start as usual.
    with TestClient(XmlMiddleware(app, max_body_bytes=settings.max_body_bytes)) as c:
        yield c


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"]
    assert body["detail"]
    return body


def assert_xml_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+xml"
    doc = xmltodict.parse(response.content)
    assert list(doc) == ["problem"]
    problem: dict[str, Any] = doc["problem"]
    assert problem["@xmlns"] == "urn:ietf:rfc:7807"
    assert problem["status"] == str(status)
    assert problem["type"].startswith("/problems/")
    assert problem["title"]
    assert problem["detail"]
    assert int(response.headers["content-length"]) == len(response.content)
    return problem


def without(body: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def test_xml_deposit_answers_the_same_json_as_a_json_deposit(
    client: TestClient[Any], world: World
) -> None:
    as_json = client.post(
        "/deposit", json={"user_id": 1, "amount": "100.00", "currency": "USD"}, headers=CLIENT
    )
    as_xml = client.post("/deposit", content=DEPOSIT_XML, headers=XML_BODY)
    assert as_json.status_code == as_xml.status_code == 201, as_xml.text
    assert as_xml.headers["content-type"] == "application/json"
    assert without(as_xml.json(), PER_TRANSACTION) == without(as_json.json(), PER_TRANSACTION)
    assert len(world.store.transactions) == 2


def test_text_xml_with_a_charset_and_whitespace_is_accepted(client: TestClient[Any]) -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<transaction>\n'
        b"  <user_id>1</user_id>\n  <amount>5.50</amount>\n  <currency>EUR</currency>\n"
        b"  <!-- comments are ignored -->\n</transaction>\n"
    )
    r = client.post(
        "/deposit", content=body, headers={**CLIENT, "Content-Type": "text/xml; charset=utf-8"}
    )
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["currency"]) == ("5.50", "EUR")


def test_xml_deposit_answered_in_xml(client: TestClient[Any]) -> None:
    r = client.post("/deposit", content=DEPOSIT_XML, headers={**XML_BODY, **WANTS_XML})
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/xml"
    assert int(r.headers["content-length"]) == len(r.content)
    doc = xmltodict.parse(r.content)
    assert list(doc) == ["transaction"]
    fields = doc["transaction"]

    stored = client.get(f"/transactions/{fields['transaction_id']}", headers=CLIENT).json()
    expected = {
        k: None if v is None else str(v)
        for k, v in stored.items()
        # Only the detail view has attempts, history, (deposits) refunds, (withdrawals) legs.
        if k not in ("attempts", "history", "refunds", "refunded_amount", "legs")
    }
    assert fields == expected
    assert (fields["user_id"], fields["amount"], fields["status"]) == ("1", "100.00", "processing")


def test_json_request_can_be_answered_in_xml(client: TestClient[Any]) -> None:
    r = client.post(
        "/deposit",
        json={"user_id": 1, "amount": "1.00", "currency": "USD"},
        headers={**CLIENT, "Accept": "text/xml"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/xml"
    assert xmltodict.parse(r.content)["transaction"]["amount"] == "1.00"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<transaction><user_id>1</user_id><amount>&lol4;</amount><currency>USD</currency></transaction>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE transaction [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<transaction><user_id>1</user_id><amount>&xxe;</amount><currency>USD</currency></transaction>"""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<transaction><user_id>1</user_id>", id="unclosed"),
        pytest.param(b"", id="empty"),
        pytest.param(b"not xml at all", id="text"),
        pytest.param(b"\xff\xfe<\x00t\x00", id="not-utf8"),
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(XXE, id="external-entity"),
        pytest.param(
            b"<!DOCTYPE transaction><transaction><user_id>1</user_id></transaction>",
            id="doctype",
        ),
        pytest.param(
            b"<payment><user_id>1</user_id><amount>1</amount><currency>USD</currency></payment>",
            id="wrong-root",
        ),
        pytest.param(
            b"<transaction><user_id>1</user_id><amount>1</amount><currency>USD</currency>"
            b"<extra>1</extra></transaction>",
            id="unknown-element",
        ),
        pytest.param(
            b'<transaction id="x"><user_id>1</user_id><amount>1</amount>'
            b"<currency>USD</currency></transaction>",
            id="attribute-on-root",
        ),
        pytest.param(
            b'<transaction><user_id>1</user_id><amount scale="2">1</amount>'
            b"<currency>USD</currency></transaction>",
            id="attribute-on-field",
        ),
        pytest.param(
            b"<transaction><user_id>1</user_id><user_id>2</user_id><amount>1</amount>"
            b"<currency>USD</currency></transaction>",
            id="repeated",
        ),
        pytest.param(
            b"<transaction><user_id>1</user_id><amount><value>1</value></amount>"
            b"<currency>USD</currency></transaction>",
            id="nested-field",
        ),
        pytest.param(
            b"<transaction>hello<user_id>1</user_id><amount>1</amount>"
            b"<currency>USD</currency></transaction>",
            id="mixed-content",
        ),
        pytest.param(b"<transaction>1</transaction>", id="text-root"),
        pytest.param(b"<transaction/>", id="empty-root"),
        pytest.param(
            b"<transaction><user_id>one</user_id><amount>1</amount>"
            b"<currency>USD</currency></transaction>",
            id="user-id-not-digits",
        ),
        pytest.param(
            b"<transaction><user_id>1</user_id><amount>abc</amount>"
            b"<currency>USD</currency></transaction>",
            id="amount-not-a-number",
        ),
        pytest.param(
            b"<transaction><user_id>1</user_id><amount/><currency>USD</currency></transaction>",
            id="empty-amount",
        ),
    ],
)
def test_bad_xml_is_400_and_writes_nothing(
    client: TestClient[Any], world: World, body: bytes
) -> None:
    r = client.post("/deposit", content=body, headers=XML_BODY)
    assert_problem(r, 400)
    assert world.store.transactions == {}
    assert world.store.commits == 0


def test_bad_xml_problem_is_xml_when_the_client_prefers_xml(
    client: TestClient[Any], world: World
) -> None:
    r = client.post("/deposit", content=BILLION_LAUGHS, headers={**XML_BODY, **WANTS_XML})
    problem = assert_xml_problem(r, 400)
    assert problem["type"] == "/problems/bad-request"
    assert world.store.transactions == {}


def test_oversized_xml_is_413(client: TestClient[Any], world: World) -> None:
    body = DEPOSIT_XML.replace(b"</transaction>", b"<x>" + b"a" * 70_000 + b"</x></transaction>")
    r = client.post("/deposit", content=body, headers=XML_BODY)
    assert assert_problem(r, 413)["type"] == "/problems/payload-too-large"
    assert world.store.transactions == {}


@pytest.mark.parametrize(("amount", "status"), [("-5", 422), ("1.001", 422), ("0", 422)])
def test_bad_amount_in_xml_is_a_422_problem(
    client: TestClient[Any], world: World, amount: str, status: int
) -> None:
    body = DEPOSIT_XML.replace(b"100.00", amount.encode())
    assert_problem(client.post("/deposit", content=body, headers=XML_BODY), status)
    r = client.post("/deposit", content=body, headers={**XML_BODY, **WANTS_XML})
    assert_xml_problem(r, status)
    assert world.store.transactions == {}


def test_unknown_user_is_a_404_problem_in_xml(client: TestClient[Any]) -> None:
    body = DEPOSIT_XML.replace(b"<user_id>1<", b"<user_id>999<")
    assert_xml_problem(
        client.post("/deposit", content=body, headers={**XML_BODY, **WANTS_XML}), 404
    )


def test_auth_problems_are_converted_too(client: TestClient[Any]) -> None:
    r = client.post(
        "/deposit", content=DEPOSIT_XML, headers={"Content-Type": "application/xml", **WANTS_XML}
    )
    assert_xml_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


def test_json_requests_are_unaffected(client: TestClient[Any], world: World) -> None:
    payload = {"user_id": 1, "amount": "100.00", "currency": "USD"}
    for accept in (None, "application/json", "*/*", "application/xml;q=0.5, application/json"):
        headers = dict(CLIENT) if accept is None else {**CLIENT, "Accept": accept}
        r = client.post("/deposit", json=payload, headers=headers)
        assert r.status_code == 201, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["amount"] == "100.00"
    assert_problem(client.post("/deposit", json={**payload, "amount": "-1"}, headers=CLIENT), 422)
    assert len(world.store.transactions) == 4


def test_other_paths_are_unaffected(client: TestClient[Any], world: World) -> None:
    r = client.get("/transactions", headers={**CLIENT, **WANTS_XML})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"items": [], "next_cursor": None}
    # No XML translation here: Litestar sees the XML bytes as a broken JSON body.
    r = client.put(
        "/users/7",
        content=b"<user><country>US</country></user>",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/xml"},
    )
    assert_problem(r, 400)
    assert 7 not in world.store.users


WITHDRAWAL_XML = (
    b"<transaction><user_id>1</user_id><amount>60.00</amount><currency>USD</currency>"
    b"<destination><iban>DE89370400440532013000</iban><holder>A. Person</holder></destination>"
    b"</transaction>"
)


def test_xml_withdrawal_carries_its_destination(client: TestClient[Any], world: World) -> None:
    async def fund() -> None:
        tx = await world.container.deposit().execute(DepositCommand(1, "100.00", "USD"))
        await world.container.settle().execute(
            SettleCommand(tx.id, FinalStatus.COMPLETED, "completed")
        )

    # On the app's own event loop, like the requests.
    client.blocking_portal.call(fund)
    r = client.post("/withdrawal", content=WITHDRAWAL_XML, headers={**XML_BODY, **WANTS_XML})
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/xml"
    fields = xmltodict.parse(r.content)["transaction"]
    assert (fields["type"], fields["amount"]) == ("withdrawal", "60.00")
    assert world.store.transactions[fields["transaction_id"]].destination == {
        "iban": "DE89370400440532013000",
        "holder": "A. Person",
    }


def test_unfunded_xml_withdrawal_is_an_insufficient_funds_problem_in_xml(
    client: TestClient[Any], world: World
) -> None:
    r = client.post("/withdrawal", content=WITHDRAWAL_XML, headers={**XML_BODY, **WANTS_XML})
    assert assert_xml_problem(r, 422)["type"].endswith("insufficient-funds")
    assert world.store.transactions == {}


@pytest.mark.parametrize(
    ("accept", "xml"),
    [
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/xml", True),
        ("text/xml", True),
        ("application/problem+xml", True),
        ("application/json, application/xml", False),
        ("application/xml, application/json", False),
        ("application/xml, application/json;q=0.9", True),
        ("application/xml;q=0.9, application/json", False),
        ("application/xml;q=0.5, application/json;q=0.5", False),
        ("application/xml;q=0, */*", False),
        ("application/xml;q=bogus", False),
        ("APPLICATION/XML ; Q=0.8, */*;q=0.1", True),
        ("text/html, application/xml;q=0.9, */*;q=0.8", True),
    ],
)
def test_accept_rule(accept: str, xml: bool) -> None:
    assert _prefers_xml(accept) is xml


# --- the middleware at ASGI level ---------------------------------------------


async def _echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request's content type and body, as JSON."""
    message = await receive()
    assert message["type"] == "http.request"
    headers = dict(scope["headers"])
    body = msgspec.json.encode(
        {
            "content_type": headers[b"content-type"].decode(),
            "content_length": headers[b"content-length"].decode(),
            "body": msgspec.json.decode(message["body"]),
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-kept", b"yes")],
        }
    )
    # Two chunks: the middleware must buffer before converting.
    await send({"type": "http.response.body", "body": body[:5], "more_body": True})
    await send({"type": "http.response.body", "body": body[5:], "more_body": False})


def _scope(headers: list[tuple[bytes, bytes]], path: str = "/withdrawal") -> Any:
    return {"type": "http", "method": "POST", "path": path, "headers": headers, "state": {}}


async def _call(app: Any, scope: Any, chunks: list[bytes]) -> tuple[list[Message], int]:
    """Run one request; return what was sent and how many receive() calls were made."""
    sent: list[Message] = []
    calls = 0

    async def receive() -> Any:
        nonlocal calls
        calls += 1
        if calls <= len(chunks):
            return {
                "type": "http.request",
                "body": chunks[calls - 1],
                "more_body": calls < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent, calls


def _response(sent: list[Message]) -> tuple[Any, bytes]:
    """The start event and the whole body of a response."""
    assert sent[0]["type"] == "http.response.start"
    body = b"".join(m["body"] for m in sent[1:] if m["type"] == "http.response.body")
    return sent[0], body


async def test_destination_becomes_a_nested_object_and_headers_are_rewritten() -> None:
    xml = (
        b"<transaction><user_id>12</user_id><amount>1.5</amount><currency>EUR</currency>"
        b"<destination><iban>DE89370400440532013000</iban><name/></destination></transaction>"
    )
    scope = _scope(
        [
            (b"content-type", b"application/xml"),
            (b"content-length", str(len(xml)).encode()),
            (b"accept", b"application/json"),
        ]
    )
    sent, _ = await _call(XmlMiddleware(_echo_app), scope, [xml[:10], xml[10:]])
    _, body = _response(sent)
    echoed = msgspec.json.decode(body)
    assert echoed["body"] == {
        "user_id": 12,
        "amount": "1.5",
        "currency": "EUR",
        "destination": {"iban": "DE89370400440532013000", "name": ""},
    }
    assert echoed["content_type"] == "application/json"
    assert echoed["content_length"] == str(len(msgspec.json.encode(echoed["body"])))
    assert scope["headers"][0] == (b"content-type", b"application/xml")  # caller's scope intact


async def test_xml_response_keeps_status_and_other_headers() -> None:
    xml = b"<transaction><user_id>1</user_id><flag>x</flag></transaction>"
    scope = _scope([(b"content-type", b"text/xml"), (b"accept", b"text/xml")])
    sent, _ = await _call(XmlMiddleware(_echo_app), scope, [xml])
    assert len(sent) == 2  # buffered, then sent as one body
    start, body = _response(sent)
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/xml"
    assert headers[b"x-kept"] == b"yes"
    assert headers[b"content-length"] == str(len(body)).encode()
    doc = xmltodict.parse(body)
    assert doc["transaction"]["body"] == {"user_id": "1", "flag": "x"}


@pytest.mark.parametrize(
    "xml",
    [
        b"<transaction><destination><a><b>1</b></a></destination></transaction>",
        b"<transaction><destination><a>1</a><a>2</a></destination></transaction>",
        b'<transaction><destination kind="bank"><a>1</a></destination></transaction>',
    ],
)
async def test_destination_nesting_is_limited_to_one_level(xml: bytes) -> None:
    scope = _scope([(b"content-type", b"application/xml")])
    sent, _ = await _call(XmlMiddleware(_echo_app), scope, [xml])
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400


async def test_oversized_body_is_refused_without_reading_further() -> None:
    scope = _scope([(b"content-type", b"application/xml")])  # chunked: no length
    chunks = [b"<transaction>" + b"a" * 400] * 10
    sent, calls = await _call(XmlMiddleware(_echo_app, max_body_bytes=1000), scope, chunks)
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    assert calls == 3  # the third chunk crossed the limit; the rest stay unread


async def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    scope = _scope([(b"content-type", b"application/xml"), (b"content-length", b"5000")])
    sent, calls = await _call(XmlMiddleware(_echo_app, max_body_bytes=1000), scope, [b"<x/>"])
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert calls == 0


async def test_non_json_responses_pass_through() -> None:
    async def text_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})

    scope = _scope([(b"accept", b"application/xml")], path="/deposit")
    sent, _ = await _call(XmlMiddleware(text_app), scope, [b""])
    start, body = _response(sent)
    assert (start["headers"], body) == ([(b"content-type", b"text/plain")], b"ok")


# --- installed the way create_app will install it ------------------------------


class Destination(msgspec.Struct, forbid_unknown_fields=True):
    iban: str


class WithdrawalBody(PaymentRequest, forbid_unknown_fields=True):
    destination: Destination


@post("/withdrawal", status_code=201)
async def fake_withdrawal(data: JSONBody[WithdrawalBody]) -> dict[str, Any]:
    return {"user_id": data.user_id, "iban": data.destination.iban, "ok": True, "note": None}


@pytest.fixture
def installed() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[fake_withdrawal],
        middleware=[xml_middleware(max_body_bytes=1024)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=1024,
    )
    with TestClient(app) as c:
        yield c


def test_installed_as_litestar_middleware(installed: TestClient[Litestar]) -> None:
    body = (
        b"<transaction><user_id>3</user_id><amount>2.00</amount><currency>GBP</currency>"
        b"<destination><iban>GB33BUKB20201555555555</iban></destination></transaction>"
    )
    headers = {"Content-Type": "application/xml"}
    r = installed.post("/withdrawal", content=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json() == {"user_id": 3, "iban": "GB33BUKB20201555555555", "ok": True, "note": None}

    r = installed.post("/withdrawal", content=body, headers={**headers, **WANTS_XML})
    assert r.status_code == 201, r.text
    assert r.content.endswith(
        b"<transaction><user_id>3</user_id><iban>GB33BUKB20201555555555</iban>"
        b"<ok>true</ok><note /></transaction>"
    )

    r = installed.post(
        "/withdrawal",
        content=body.replace(b"<iban>", b"<iban>x</iban><bic>").replace(
            b"</iban></d", b"</bic></d"
        ),
        headers={**headers, **WANTS_XML},
    )
    assert_xml_problem(r, 400)
    r = installed.post("/withdrawal", content=body + b" " * 2000, headers=headers)
    assert_problem(r, 413)
