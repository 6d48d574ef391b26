"""Stripe's wire format for the subset we use: form-encoded requests, JSON objects back.

Requests are ``application/x-www-form-urlencoded`` with Stripe's bracket
notation for nested fields (``metadata[transaction_id]=…``); amounts are
integers in the currency's minor unit and currencies lowercase ISO codes
(https://docs.stripe.com/api/payment_intents/create). Answers are JSON
objects; we read only the fields we act on and ignore the rest, as Stripe
adds fields without a new API version.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import msgspec

from application.ports import PaymentInstruction
from domain.errors import InvalidInput
from domain.money import Money

FORM = "application/x-www-form-urlencoded"
PAYMENT_INTENTS = "v1/payment_intents"
SEARCH = "v1/payment_intents/search"
REFUNDS = "v1/refunds"
# Where our ids travel in Stripe's metadata (what a webhook event is matched by).
TRANSACTION_KEY = "transaction_id"
REFERENCE_KEY = "reference"


class RedirectToUrl(msgspec.Struct):
    url: str | None = None


class NextAction(msgspec.Struct):
    type: str = ""
    redirect_to_url: RedirectToUrl | None = None


class StripeObject(msgspec.Struct):
    """A PaymentIntent or a Refund: the fields of either that we act on."""

    id: str
    object: str
    amount: int
    currency: str
    status: str
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    client_secret: str | None = None
    next_action: NextAction | None = None
    payment_intent: str | None = None  # refunds: the PaymentIntent given back

    @property
    def final_status(self) -> str:
        """Our status for it: completed, failed or (anything else) processing."""
        if self.status == "succeeded":
            return "completed"
        # A PaymentIntent is canceled for good; a refund fails or is canceled.
        if self.status in ("canceled", "failed"):
            return "failed"
        return "processing"

    @property
    def redirect_url(self) -> str | None:
        action = self.next_action
        return action.redirect_to_url.url if action and action.redirect_to_url else None

    def money(self) -> Money:
        """Its amount as our Money; InvalidInput when no payment of ours can have it."""
        return Money.of_minor(self.amount, self.currency.upper())


class SearchResult(msgspec.Struct):
    data: list[StripeObject]


_object = msgspec.json.Decoder(StripeObject)
_search = msgspec.json.Decoder(SearchResult)


def search_query(reference: str) -> str:
    """Stripe's search query for the PaymentIntent sent under our ``reference``."""
    # Our references are ``<uuid>:<n>``: nothing to escape inside the quotes.
    return f"metadata['{REFERENCE_KEY}']:'{reference}'"


def decode_search(content: bytes) -> list[StripeObject]:
    """The objects of a search answer; msgspec.DecodeError if unreadable."""
    return _search.decode(content).data


def decode_object(content: bytes) -> StripeObject:
    """A PaymentIntent or Refund from an answer body; msgspec.DecodeError if unreadable."""
    return _object.decode(content)


def convert_object(raw: object) -> StripeObject:
    """The same from an already parsed JSON value (a webhook event's data.object)."""
    return msgspec.convert(raw, StripeObject)


def payment_intent_form(instruction: PaymentInstruction) -> str:
    """``POST /v1/payment_intents``: a deposit's amount, currency and our ids."""
    return encode_form(
        {
            "amount": str(instruction.amount_minor),
            "currency": instruction.currency.lower(),
            "automatic_payment_methods": {"enabled": "true"},
            "metadata": _metadata(instruction),
        }
    )


def refund_form(instruction: PaymentInstruction) -> str:
    """``POST /v1/refunds``: (part of) the PaymentIntent ``parent_reference`` back."""
    if not instruction.parent_reference:
        raise InvalidInput("a Stripe refund needs the PaymentIntent it gives back")
    return encode_form(
        {
            "payment_intent": instruction.parent_reference,
            "amount": str(instruction.amount_minor),
            "metadata": _metadata(instruction),
        }
    )


def _metadata(instruction: PaymentInstruction) -> dict[str, str]:
    return {
        TRANSACTION_KEY: instruction.transaction_id,
        REFERENCE_KEY: instruction.reference,
        "user_id": str(instruction.user_id),
    }


def encode_form(params: Mapping[str, str | Mapping[str, str]]) -> str:
    """Stripe's form encoding: one level of nesting as ``key[sub]=value``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, str):
            pairs.append((key, value))
        else:
            pairs.extend((f"{key}[{sub}]", item) for sub, item in value.items())
    return urlencode(pairs)
