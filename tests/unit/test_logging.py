"""Structured logging: JSON shape, context fields and log hygiene (redaction)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from application.log_context import (
    bind_actor,
    bind_transaction,
    current_actor,
    current_transaction_id,
)
from entrypoints import logging_setup, redaction
from entrypoints.logging_setup import NOISY_LOGGERS, configure_logging
from entrypoints.redaction import Redactor, add_secrets, secret_values
from entrypoints.settings import Settings

SECRET = "whsec_0123456789abcdef"
LUHN_PAN = "4111111111111111"
ORDER_ID = "1234567812345678"  # 16 digits, fails the Luhn check
IBAN = "DE89370400440532013000"
_TOUCHED = ("uvicorn", "uvicorn.error", "uvicorn.access", *NOISY_LOGGERS)

log = logging.getLogger("payments.test")


@pytest.fixture(autouse=True)
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh secret registry, and the root and library loggers restored afterwards."""
    monkeypatch.setattr(redaction, "_REDACTOR", Redactor())
    root = logging.getLogger()
    root_state = (root.handlers[:], root.level)
    others = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in _TOUCHED
        for lg in [logging.getLogger(name)]
    }
    yield
    root.handlers = root_state[0]
    root.setLevel(root_state[1])
    for name, (handlers, level, propagate) in others.items():
        lg = logging.getLogger(name)
        lg.handlers, lg.propagate = handlers, propagate
        lg.setLevel(level)


def records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """Every stderr line, parsed: each must be one JSON object."""
    lines = capsys.readouterr().err.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def only(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    [record] = records(capsys)
    return record


# -- shape ------------------------------------------------------------------------
def test_one_json_object_per_line_with_core_fields_and_extras(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    log.info("gateway %s answered", "paypal", extra={"attempt": 2, "latency_ms": 12.5})

    record = only(capsys)
    assert record["level"] == "INFO"
    assert record["logger"] == "payments.test"
    assert record["message"] == "gateway paypal answered"
    assert (record["attempt"], record["latency_ms"]) == (2, 12.5)
    assert "transaction_id" not in record  # absent rather than null when unbound
    assert "actor" not in record
    stamp = datetime.fromisoformat(str(record["timestamp"]))
    assert stamp.utcoffset() == timedelta(0)
    assert str(record["timestamp"]).endswith("Z")


def test_multiline_message_and_exception_stay_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    try:
        raise RuntimeError("gateway exploded")
    except RuntimeError:
        log.exception("first line\nsecond line")

    record = only(capsys)
    assert record["message"] == "first line\nsecond line"
    assert "RuntimeError: gateway exploded" in str(record["exception"])
    assert "Traceback" in str(record["exception"])


def test_extras_cannot_overwrite_core_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("hello", extra={"level": "fake", "timestamp": "fake"})

    record = only(capsys)
    assert record["level"] == "INFO"
    assert (record["extra_level"], record["extra_timestamp"]) == ("fake", "fake")


def test_unserializable_extras_are_rendered_as_strings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    log.info("hello", extra={"when": datetime(2026, 1, 2), "ratio": float("nan")})

    record = only(capsys)
    assert record["when"] == "2026-01-02 00:00:00"
    assert record["ratio"] == "nan"


def test_a_broken_format_string_neither_raises_nor_leaks_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # pytest's own capture handler would raise on the bad record before ours saw it.
    logging.getLogger().handlers.clear()
    configure_logging("INFO", secrets=[SECRET])
    log.info("amount %d", SECRET)  # wrong conversion for a str

    err = capsys.readouterr().err
    assert SECRET not in err
    assert json.loads(err)["message"] == "amount %d [unformattable arguments]"


# -- context ----------------------------------------------------------------------
def test_transaction_id_and_actor_come_from_the_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    with bind_actor("client:ab12cd"), bind_transaction("tx-outer"):
        log.info("outer")
        with bind_transaction("tx-inner"):
            log.info("inner")
        log.info("outer again")
    log.info("unbound")

    got = [(r.get("transaction_id"), r.get("actor")) for r in records(capsys)]
    assert got == [
        ("tx-outer", "client:ab12cd"),
        ("tx-inner", "client:ab12cd"),
        ("tx-outer", "client:ab12cd"),
        (None, None),
    ]
    assert (current_transaction_id(), current_actor()) == (None, None)


def test_an_explicit_extra_transaction_id_wins(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    with bind_transaction("tx-context"):
        log.info("callback for another transaction", extra={"transaction_id": "tx-explicit"})

    assert only(capsys)["transaction_id"] == "tx-explicit"


async def test_context_follows_awaits_and_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    started = asyncio.Event()

    async def work(name: str) -> None:
        await asyncio.sleep(0)
        await started.wait()  # logs only after the creator has left its with-block
        log.info(name)

    with bind_transaction("tx-a"), bind_actor("gateway:paypal"):
        first = asyncio.create_task(work("a"))
    with bind_transaction("tx-b"):
        second = asyncio.create_task(work("b"))
    unbound = asyncio.create_task(work("none"))
    started.set()
    await asyncio.gather(first, second, unbound)

    got = {r["message"]: (r.get("transaction_id"), r.get("actor")) for r in records(capsys)}
    assert got == {
        "a": ("tx-a", "gateway:paypal"),
        "b": ("tx-b", None),
        "none": (None, None),
    }


# -- redaction --------------------------------------------------------------------
def test_configured_secrets_are_redacted_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", secrets=[SECRET])
    log.info(f"in the message {SECRET}")
    log.info("in the args %s", SECRET)
    log.info("in extras", extra={"header": SECRET, "nested": {"k": [SECRET]}})
    try:
        raise ValueError(f"bad signature with {SECRET}")
    except ValueError:
        log.exception("in the exception")

    err = capsys.readouterr().err
    assert SECRET not in err
    parsed = [json.loads(line) for line in err.splitlines()]
    assert parsed[0]["message"] == "in the message [REDACTED]"
    assert parsed[1]["message"] == "in the args [REDACTED]"
    assert parsed[2]["header"] == "[REDACTED]"
    assert parsed[2]["nested"] == {"k": ["[REDACTED]"]}
    assert "ValueError: bad signature with [REDACTED]" in parsed[3]["exception"]


def test_secrets_added_later_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("before %s", SECRET)
    add_secrets([SECRET])
    log.info("after %s", SECRET)

    before, after = records(capsys)
    assert before["message"] == f"before {SECRET}"  # it was not known yet
    assert after["message"] == "after [REDACTED]"


def test_short_secrets_are_ignored_rather_than_mangling_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", secrets=["k1", "paypal"])
    log.info("key k1 for paypal")

    assert only(capsys)["message"] == "key k1 for paypal"


def test_the_longest_secret_wins_and_case_does_not_matter() -> None:
    spec = "k1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80"
    redact = Redactor([spec, spec.partition(":")[2], "ABCDEF0123456789"])

    assert redact(f"keys={spec}") == "keys=[REDACTED]"
    assert redact("hmac abcdef0123456789") == "hmac [REDACTED]"


@pytest.mark.parametrize(
    "pan",
    [LUHN_PAN, "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005", "5555555555554444"],
)
def test_luhn_valid_card_numbers_are_masked(pan: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("card %s declined", pan)

    record = only(capsys)
    assert record["message"] == f"card [PAN ****{pan[-4:]}] declined"


def test_numbers_failing_luhn_are_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("order %s, amount %s, long %s", ORDER_ID, "4111111111111112", "4" * 20)

    assert only(capsys)["message"] == (
        f"order {ORDER_ID}, amount 4111111111111112, long {'4' * 20}"
    )


def test_a_card_number_next_to_other_numbers_is_still_found() -> None:
    assert Redactor()(f"amount 100 {LUHN_PAN} x") == "amount 100 [PAN ****1111] x"


def test_card_numbers_in_extras_are_masked_even_as_ints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    log.info("payout", extra={"pan": LUHN_PAN, "pan_int": int(LUHN_PAN), "order": int(ORDER_ID)})

    record = only(capsys)
    assert record["pan"] == record["pan_int"] == "[PAN ****1111]"
    assert record["order"] == int(ORDER_ID)


@pytest.mark.parametrize(
    ("iban", "last4"),
    [
        (IBAN, "3000"),
        ("DE89 3704 0044 0532 0130 00", "3000"),
        ("GB82WEST12345698765432", "5432"),
        ("gb82west12345698765432", "5432"),
    ],
)
def test_ibans_are_masked(iban: str, last4: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("payout to %s queued", iban, extra={"destination": {"iban": iban}})

    record = only(capsys)
    assert record["message"] == f"payout to [IBAN ****{last4}] queued"
    assert record["destination"] == {"iban": f"[IBAN ****{last4}]"}


def test_our_own_ids_are_not_taken_for_ibans_or_cards() -> None:
    text = "tx 0193a2b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b event evt_ab12cdef0123456789abcdef01234567"
    assert Redactor()(text) == text


def test_bearer_tokens_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log.info("headers %s", {"Authorization": "Bearer sk_live.abc-DEF_123+/="})

    assert only(capsys)["message"] == "headers {'Authorization': 'Bearer [REDACTED]'}"


def test_text_format_is_one_readable_line_with_the_same_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_logs=False, secrets=[SECRET])
    with bind_transaction("tx-1"), bind_actor("reconciler"):
        log.warning("card %s, secret %s, iban %s", LUHN_PAN, SECRET, IBAN, extra={"note": "a b"})

    [line] = capsys.readouterr().err.splitlines()
    assert SECRET not in line
    assert LUHN_PAN not in line
    assert IBAN not in line
    assert " WARNING payments.test [tx=tx-1 actor=reconciler] card [PAN ****1111], " in line
    assert "secret [REDACTED], iban [IBAN ****3000]" in line
    assert line.endswith(' note="a b"')


# -- levels and installation ------------------------------------------------------
def test_records_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning")
    log.info("quiet")
    log.warning("loud")

    assert [r["message"] for r in records(capsys)] == ["loud"]


def test_noisy_libraries_only_show_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).info("chatter")
        logging.getLogger(name).warning("trouble")
    log.debug("ours")

    got = [(r["logger"], r["message"]) for r in records(capsys)]
    assert got == [(name, "trouble") for name in NOISY_LOGGERS] + [("payments.test", "ours")]


def test_configuring_twice_keeps_one_handler_and_every_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", secrets=[SECRET])
    configure_logging("INFO")
    ours = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging_setup._StderrHandler)  # the marker class
    ]
    log.info("once %s", SECRET)

    assert len(ours) == 1
    assert only(capsys)["message"] == "once [REDACTED]"


def test_uvicorn_logs_go_through_our_handler_and_access_logs_stay_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("uvicorn").addHandler(logging.StreamHandler())  # as uvicorn's config does
    configure_logging("INFO", secrets=[SECRET])
    logging.getLogger("uvicorn.error").info("Started server process %s", SECRET)
    logging.getLogger("uvicorn.access").info("GET /callback/paypal 200")

    record = only(capsys)
    assert (record["logger"], record["message"]) == (
        "uvicorn.error",
        "Started server process [REDACTED]",
    )


def test_secret_values_collects_every_configured_secret() -> None:
    spec = "k1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=,k0:AAAAAAAAAAAAAAAAAAAA"
    settings = Settings(
        database_url="postgresql://payments:db-password-123@db/payments",
        api_keys=("sk_client_1",),
        admin_api_keys=("sk_admin_1",),
        webhook_secrets={"paypal": ("whsec_new", "whsec_old"), "adyen": ("ABCDEF",)},
        encryption_keys=spec,
    )

    values = set(secret_values(settings))

    assert {
        "sk_client_1",
        "sk_admin_1",
        "whsec_new",
        "whsec_old",
        "ABCDEF",
        spec,
        "k1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
        "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
        "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80",
        "AAAAAAAAAAAAAAAAAAAA",
        "db-password-123",
    } <= values


def test_merchant_keys_are_secrets_to_redact() -> None:
    settings = Settings(gateway_keys={"paypal": "mk_paypal_secret", "adyen": "mk_adyen_secret"})
    assert {"mk_paypal_secret", "mk_adyen_secret"} <= set(secret_values(settings))
