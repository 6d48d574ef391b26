"""Wire formats of the public API (msgspec Structs, used at the edge only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema

from application.get_transaction import TransactionDetails
from domain.ledger import Balance
from domain.money import Money
from domain.refunds import refunded_minor
from domain.transaction import Attempt, Transaction, TransactionType
from entrypoints.http.strict_json import Amount

UserId = Annotated[
    int, msgspec.Meta(ge=1, le=2**63 - 1, description="The platform's user id (a JSON integer)")
]

# What entrypoints.http.strict_json.Amount accepts, for the OpenAPI document.
AMOUNT_SCHEMA = {
    "one_of": [
        Schema(type=OpenAPIType.STRING, pattern=r"^[0-9]+(\.[0-9]+)?$"),
        Schema(type=OpenAPIType.NUMBER, description="read exactly; no exponent"),
    ]
}


class PaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /deposit."""

    user_id: UserId
    amount: Annotated[
        Amount,
        msgspec.Meta(
            description="Exact decimal amount: a string of ASCII digits with at most one "
            '"." (no sign, spaces, underscores or exponent), or a JSON number',
            examples=["100.00"],
            extra_json_schema={"extra": AMOUNT_SCHEMA},
        ),
    ]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3, examples=["USD"])]


class WithdrawalRequest(PaymentRequest, forbid_unknown_fields=True):
    """Body of POST /withdrawal."""

    destination: (
        Annotated[
            dict[str, str],
            msgspec.Meta(
                description="Where to pay out (e.g. IBAN, card token); stored encrypted, "
                "never returned",
                examples=[{"iban": "DE89370400440532013000"}],
            ),
        ]
        | None
    ) = None


class AttemptOut(msgspec.Struct):
    number: int
    gateway: str
    outcome: str
    error: str | None
    latency_ms: int | None
    tries: int
    reference: str
    started_at: datetime


def _ex(description: str, *examples: object) -> msgspec.Meta:
    return msgspec.Meta(description=description, examples=list(examples))


class TransactionOut(msgspec.Struct):
    """A deposit or withdrawal as the platform sees it."""

    transaction_id: Annotated[str, _ex("Our id (UUIDv7)", "01a22549-51c9-7665-8c91-cf11e5775a5b")]
    type: Annotated[str, _ex("deposit, withdrawal or refund", "deposit")]
    status: Annotated[str, _ex("pending, processing, completed or failed", "processing")]
    user_id: Annotated[int, _ex("The platform's user", 1)]
    amount: Annotated[str, _ex("Exact decimal in the currency's precision", "100.00")]
    currency: Annotated[str, _ex("ISO 4217", "USD")]
    gateway: Annotated[str | None, _ex("The gateway carrying it", "paypal")]
    message: Annotated[str | None, _ex("Human-readable state", "Transaction is being processed")]
    redirect_url: Annotated[
        str | None,
        _ex(
            "Deposits: where the payer completes the payment",
            "https://paypal.example/checkout/PA-1",
        ),
    ]
    reference_id: Annotated[str | None, _ex("The gateway's own id", "PA-0000000001")]
    created_at: datetime
    updated_at: datetime
    version: Annotated[int, _ex("Bumped by every state change; events carry it", 2)]
    parent_transaction_id: Annotated[str | None, _ex("A refund's deposit, a leg's", None)] = None
    client_secret: Annotated[
        str | None, _ex("Stripe deposits: for Stripe.js (in the deposit's answer only)", None)
    ] = None


class HistoryOut(msgspec.Struct):
    at: datetime
    actor: str
    action: str
    version: int | None
    status: str | None
    message: str | None


class TransactionDetailOut(TransactionOut):
    attempts: list[AttemptOut] = msgspec.field(default_factory=list)
    history: list[HistoryOut] = msgspec.field(default_factory=list)
    # Deposits only (else null): their refunds, and what the completed ones gave back.
    refunds: list[TransactionOut] | None = None
    refunded_amount: Annotated[str | None, _ex("Completed refunds' total", "25.00")] = None
    legs: list[TransactionOut] | None = None  # a closed-loop withdrawal's, oldest first


class TransactionPageOut(msgspec.Struct):
    items: list[TransactionOut]
    next_cursor: str | None


class UserBody(msgspec.Struct, forbid_unknown_fields=True):
    """Create a user in, or move them to, a configured country."""

    country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$", examples=["US"])]


class UserOut(msgspec.Struct):
    user_id: int
    country: str


def _fields(tx: Transaction) -> dict[str, object]:
    return {
        "transaction_id": tx.id,
        "type": tx.type.value,
        "status": tx.status.value,
        "user_id": tx.user_id,
        "amount": tx.money.format(),
        "currency": tx.money.currency.code,
        "gateway": tx.gateway_id,
        "message": tx.message,
        "redirect_url": tx.redirect_url,
        "reference_id": tx.reference_id,
        "created_at": tx.created_at,
        "updated_at": tx.updated_at,
        "version": tx.version,
        "parent_transaction_id": tx.parent_transaction_id,
        "client_secret": tx.client_secret,
    }


def transaction_out(tx: Transaction) -> TransactionOut:
    return TransactionOut(**_fields(tx))  # type: ignore[arg-type]


def _attempt_out(a: Attempt) -> AttemptOut:
    return AttemptOut(
        number=a.number,
        gateway=a.gateway_id,
        outcome=a.outcome.value,
        error=a.error_code,
        latency_ms=a.latency_ms,
        tries=a.tries,
        reference=a.reference,
        started_at=a.started_at,
    )


def transaction_detail_out(details: TransactionDetails) -> TransactionDetailOut:
    tx = details.transaction
    return TransactionDetailOut(
        **_fields(tx),  # type: ignore[arg-type]
        attempts=[_attempt_out(a) for a in tx.attempts],
        history=[
            HistoryOut(
                at=e.occurred_at,
                actor=e.actor,
                action=e.action,
                version=e.details.get("version"),
                status=e.details.get("status"),
                message=e.details.get("message"),
            )
            for e in details.history
        ],
        **refunds_out(details),  # type: ignore[arg-type]
    )


def refunds_out(details: TransactionDetails) -> dict[str, object]:
    tx = details.transaction
    if tx.type is not TransactionType.DEPOSIT:  # a withdrawal's children are its legs
        return {"legs": [transaction_out(c) for c in details.refunds]} if details.refunds else {}
    refunded = Money.format_minor(refunded_minor(details.refunds), tx.money.currency.code)
    return {"refunds": [transaction_out(r) for r in details.refunds], "refunded_amount": refunded}


class BalanceOut(msgspec.Struct):
    currency: str
    available: str
    withdrawable: str  # available less deposits inside their gateway's reversal window
    held: str


def balance_out(b: Balance) -> BalanceOut:
    return BalanceOut(
        currency=b.currency,
        available=Money.format_minor(b.available_minor, b.currency),
        withdrawable=Money.format_minor(b.withdrawable, b.currency),
        held=Money.format_minor(b.held_minor, b.currency),
    )


class Problem(msgspec.Struct):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    transaction_id: str | None = None


_PROBLEM_TEXT = {
    400: "Malformed request (JSON/XML, types, unknown fields)",
    401: "Missing, unknown or (callbacks) invalid credentials or signature",
    402: "Declined by the gateway; the failed transaction_id is included",
    403: "An admin API key is needed",
    404: "Unknown user, transaction, gateway or country",
    409: "Idempotency-Key in use by a request still running, or a concurrent update",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Valid shape, refused by the rules (amount, currency, insufficient funds, "
    "no eligible gateway, Idempotency-Key reused with another body)",
    503: "A dependency is down, or every eligible gateway failed "
    "(then with the failed transaction_id)",
}


def problem_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI entries for the problem answers a handler can give."""
    from litestar.openapi.datastructures import ResponseSpec

    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_PROBLEM_TEXT[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in statuses
    }
