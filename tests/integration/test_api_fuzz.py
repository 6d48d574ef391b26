"""Schema fuzzing of the live service: Schemathesis against its own OpenAPI.

The real service (API, sandbox gateways, workers) runs on a test database
(``serve_api``); its OpenAPI document is fetched from ``/schema/openapi.json``
and every operation in it, the sandbox's included, gets generated requests:
schema-valid ones (positive) and schema-violating ones (negative), all with
the admin key as Bearer token (admin keys pass the client guards too), then a
few without a valid key (Schemathesis may still send a made-up one).

Hard check: no answer is a 5xx (Schemathesis' ``not_a_server_error``), and
every request gets an answer. Soft checks, reported as warnings with counts
and one reproducible example each: documented status codes, content types,
headers and response schemas, and negative data rejected with a 4xx.

State the fuzzer changes that would turn later answers into designed 5xx or
slow them down is put back after each request: sandbox behaviour (a gateway in
"error" mode answers 500 on purpose), gateway status, the demo countries'
priorities and the demo users' countries.

Two more tests go where a schema-driven generator does not: hostile bodies
and paths (deep nesting, bad encodings, NUL, sizes) on every operation that
takes a body, and generated callbacks that are correctly signed, so they get
past the signature check into parsing, the inbox and the workers.

Environment:
* ``PAYMENTS_FUZZ_EXAMPLES`` (default 25): examples per operation and mode;
* ``PAYMENTS_FUZZ_UNAUTH_EXAMPLES`` (default 5): examples per operation without a key;
* ``PAYMENTS_FUZZ_CALLBACK_EXAMPLES`` (default 100): signed callbacks per family;
* ``PAYMENTS_FUZZ_BUDGET_S`` (default 120): total time of the Schemathesis run;
  operations share what is left;
* ``PAYMENTS_FUZZ_SEED``: Hypothesis seed (random by default, printed).

Locally, for a longer run::

    PAYMENTS_FUZZ_EXAMPLES=1000 PAYMENTS_FUZZ_CALLBACK_EXAMPLES=2000 \\
        PAYMENTS_FUZZ_BUDGET_S=1800 uv run pytest tests/integration/test_api_fuzz.py -s
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.errors import FailureGroup, SerializationNotPossible

from adapters.gateways.signing_json import sign_json
from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
from adapters.gateways.soap_notification import build_notification
from tests.support.api import (
    ADMIN,
    ADMIN_KEY,
    WEBHOOK_SECRETS,
    deposit,
    serve_api,
    wait_for_status,
    withdraw,
)

EXAMPLES = int(os.environ.get("PAYMENTS_FUZZ_EXAMPLES", "25"))
UNAUTH_EXAMPLES = int(os.environ.get("PAYMENTS_FUZZ_UNAUTH_EXAMPLES", "5"))
BUDGET_S = float(os.environ.get("PAYMENTS_FUZZ_BUDGET_S", "120"))
SEED = int(os.environ.get("PAYMENTS_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
REQUEST_TIMEOUT_S = 15.0  # above the service's own gateway timeouts and retry budget

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

# Checked for every answer, each on its own so one finding does not hide another.
SOFT_CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
NEGATIVE_SOFT_CHECKS = [checks.negative_data_rejection]

# The demo data, as tests/support and the embedded default load it.
DEMO_USERS = {1: "US", 2: "GB", 3: "DE", 4: "JP"}
DEFAULT_BEHAVIOUR: dict[str, object] = {}  # every field at its default: "ok", no latency
# Answer without a key: probes, signed callbacks, and the sandbox PSPs' own payment
# API (a real PSP authenticates us its own way; the sandbox does not).
PUBLIC_OPERATIONS = {
    "health",
    "ready",
    "receiveCallback",
    "sandboxCreatePayment",
    "sandboxGetPayment",
    "sandboxHealth",
    "sandboxSoap",
}


@dataclass
class Finding:
    count: int = 0
    example: str = ""


@dataclass
class Report:
    """What the fuzzer saw, per operation."""

    requests: Counter[str] = field(default_factory=Counter)  # operation -> requests sent
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[str] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)
    soft: dict[tuple[str, str, str], Finding] = field(default_factory=lambda: defaultdict(Finding))
    cut_short: list[str] = field(default_factory=list)
    not_generated: list[str] = field(default_factory=list)
    unsendable: Counter[str] = field(default_factory=Counter)
    logged: dict[str, Finding] = field(default_factory=lambda: defaultdict(Finding))

    def add_soft(self, label: str, check: str, title: str, example: str) -> None:
        finding = self.soft[(label, check, title)]
        finding.count += 1
        finding.example = finding.example or example


class StateGuard:
    """Puts back what an operation just changed, so the next requests meet the demo state."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.priorities = {
            country: api.get(f"/countries/{country}/gateways", headers=ADMIN).json()
            for country in sorted(set(DEMO_USERS.values()))
        }
        self.gateways = [g["id"] for g in api.get("/gateways", headers=ADMIN).json()]

    def restore(self, operation_id: str, case: schemathesis.Case) -> None:
        path = case.path_parameters or {}
        if operation_id == "sandboxSetBehaviour":
            for gateway_id in self.gateways:
                self._put(f"/sandbox/{gateway_id}/behaviour", DEFAULT_BEHAVIOUR)
        elif operation_id == "setGatewayStatus":
            for gateway_id in self.gateways:
                self._put(f"/gateways/{gateway_id}/status", {"status": "up"})
        elif operation_id == "setCountryGateways" and path.get("country") in self.priorities:
            country = path["country"]
            self._put(f"/countries/{country}/gateways", self.priorities[country])
        elif operation_id == "upsertUser":
            for user_id, country in DEMO_USERS.items():
                self._put(f"/users/{user_id}", {"country": country})

    def _put(self, path: str, body: object) -> None:
        r = self.api.put(path, json=body, headers=ADMIN)
        assert r.status_code == 200, f"could not restore {path}: {r.status_code} {r.text}"


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def _describe(case: schemathesis.Case, response: Any | None = None) -> str:
    """Method, path, body and a curl command: enough to replay it by hand."""
    lines = [f"{case.method} {case.formatted_path}"]
    if case.query:
        lines.append(f"  query: {case.query}")
    if case.body is not None and type(case.body).__name__ != "NotSet":
        lines.append(f"  body ({case.media_type}): {case.body!r:.500}")
    if response is not None:
        lines.append(f"  -> {response.status_code} {response.text[:300]!r}")
    lines.append(f"  {case.as_curl_command(headers=None)}")
    return "\n".join(lines)


def _strategy(operation: Any, mode: GenerationMode, known: dict[str, list[Any]]) -> Any:
    """Generated cases, mixed with cases that name existing things.

    Random path parameters mostly meet 404s; so a share of the cases use
    known values (the demo gateways, countries and users, transactions made
    before fuzzing) with the rest generated, and positive mode adds the
    schema's own examples (user 1, "100.00", "USD"), which reach the paths
    behind validation: real deposits, withdrawals refused for funds...
    """
    strategies = [operation.as_strategy(generation_mode=mode)]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in known for name in names):
        for values in itertools.product(*(known[name] for name in names)):
            fixed = dict(zip(names, values, strict=True))
            strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    if mode is GenerationMode.POSITIVE:
        strategies += operation.get_strategies_from_examples()
    return st.one_of(*strategies)


def _fuzz(
    session: requests.Session,
    base_url: str,
    operation: Any,
    mode: GenerationMode,
    *,
    examples: int,
    deadline: float,
    headers: dict[str, str],
    report: Report,
    label: str,
    after: Callable[[schemathesis.Case], None],
    op_seed: int,
    known: dict[str, list[Any]],
) -> None:
    soft = SOFT_CHECKS + (NEGATIVE_SOFT_CHECKS if mode is GenerationMode.NEGATIVE else [])
    sent = 0

    @seed(op_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: findings are collected
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, mode, known))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        if time.monotonic() > deadline:
            return
        sent += 1
        report.requests[label] += 1
        try:
            response = case.call(
                base_url=base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # The service hung up or did not answer in time: worse than a 5xx.
            report.no_answer.append(f"{label}: {type(exc).__name__}: {exc}\n{_describe(case)}")
            return
        except (requests.RequestException, SerializationNotPossible) as exc:
            # The client could not even send it (e.g. a header value requests refuses).
            report.unsendable[f"{label}: {type(exc).__name__}"] += 1
            return
        finally:
            after(case)
        report.statuses[label][response.status_code] += 1
        try:
            case.validate_response(response, checks=[checks.not_a_server_error], headers=headers)
        except FailureGroup:
            report.server_errors.append(f"{label} [{mode.value}]\n{_describe(case, response)}")
        for check in soft:
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.add_soft(label, check.__name__, failure.title, _describe(case, response))

    try:
        run()
    except Exception as exc:  # strategy could not be built or generate (e.g. nothing to negate)
        report.not_generated.append(f"{label} [{mode.value}]: {type(exc).__name__}: {exc}")
    if time.monotonic() > deadline and sent < examples:
        report.cut_short.append(f"{label} [{mode.value}]: {sent}/{examples} before its time share")


def _collect_logs(report: Report, records: list[logging.LogRecord]) -> None:
    """Errors the service logged (background workers, the sandbox's callback sender)."""
    for record in records:
        if record.levelno < logging.ERROR:
            continue
        key = f"{record.name}: {record.getMessage().splitlines()[0][:100]}"
        example = ""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
            origin = (
                f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}"
                if frames
                else ""
            )
            key += f" | {type(error).__name__}{origin}"
            example = f"{error!s:.200}"
        finding = report.logged[key]
        finding.count += 1
        finding.example = finding.example or example


def _print_report(report: Report, operations: list[str], elapsed: float) -> str:
    total = sum(report.requests.values())
    lines = [
        f"schemathesis {schemathesis.__version__}: {len(operations)} operations, "
        f"{total} requests in {elapsed:.1f}s (seed {SEED}, {EXAMPLES} examples per operation "
        f"and mode, {UNAUTH_EXAMPLES} unauthenticated)",
    ]
    for label in operations:
        statuses = ", ".join(f"{s}x{n}" for s, n in sorted(report.statuses[label].items()))
        lines.append(f"  {label:45} {report.requests[label]:4} requests  {statuses}")
    lines.append(f"5xx answers: {len(report.server_errors)}; no answer: {len(report.no_answer)}")
    if report.soft:
        lines.append("soft check findings (warnings):")
        for (label, check, title), finding in sorted(report.soft.items()):
            lines.append(f"  {label}: {check}: {title} (x{finding.count})")
    for note in report.cut_short:
        lines.append(f"cut short by the time budget: {note}")
    for note in report.not_generated:
        lines.append(f"not generated: {note}")
    for note, n in sorted(report.unsendable.items()):
        lines.append(f"not sendable by the client: {note} (x{n})")
    if report.logged:
        lines.append("errors logged by the service meanwhile (not answers; reported only):")
        for key, finding in sorted(report.logged.items(), key=lambda kv: -kv[1].count):
            lines.append(f"  x{finding.count} {key}  e.g. {finding.example!r}")
    text = "\n".join(lines)
    print("\n" + text)
    for (label, check, title), finding in sorted(report.soft.items()):
        print(f"\n[{check}] {label}: {title} (x{finding.count}), e.g.\n{finding.example}")
    return text


def _known_values(api: httpx.Client) -> dict[str, list[Any]]:
    """Path parameter values that exist: demo data, and a few real transactions."""
    made = [
        deposit(api, 1, "100.00", "USD").json(),
        deposit(api, 3, "12.50", "EUR").json(),
    ]
    for tx in made:
        wait_for_status(api, tx["transaction_id"], "completed")
    made.append(withdraw(api, 1, "10.00", "USD").json())
    ids = [tx["transaction_id"] for tx in made]
    return {
        "gateway_id": ["paypal", "stripe", "adyen"],
        "country": sorted(set(DEMO_USERS.values())),
        "user_id": sorted(DEMO_USERS),
        "transaction_id": ids,
        "reference": [f"{tx_id}:1" for tx_id in ids],
    }


def test_no_operation_of_the_live_api_answers_5xx(
    demo_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    deadline = started + BUDGET_S
    report = Report()
    with serve_api(demo_database_url) as api, requests.Session() as session:
        base_url = str(api.base_url).rstrip("/")
        schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
        operations = list(_operations(schema))
        labels = [op.label for op in operations]
        assert len(operations) >= 20, labels  # every endpoint, the sandbox's included
        guard = StateGuard(api)
        known = _known_values(api)
        runs = [
            (op, mode, EXAMPLES, AUTH)
            for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ] + [(op, GenerationMode.POSITIVE, UNAUTH_EXAMPLES, {}) for op in operations]
        for index, (op, mode, examples, headers) in enumerate(runs):
            if examples <= 0:
                continue
            remaining = deadline - time.monotonic()
            share = remaining / (len(runs) - index)
            label = op.label if headers else f"{op.label} (no key)"
            _fuzz(
                session,
                base_url,
                op,
                mode,
                examples=examples,
                deadline=time.monotonic() + max(share, 0.0),
                headers=headers,
                report=report,
                label=label,
                after=lambda case, op=op: guard.restore(
                    op.definition.raw.get("operationId", ""), case
                ),
                op_seed=SEED + index,
                known=known,
            )
        unauth_labels = [f"{label} (no key)" for label in labels]
    _collect_logs(report, caplog.records)
    text = _print_report(report, labels + unauth_labels, time.monotonic() - started)

    # Soft findings: one warning per check, naming the operations it flagged.
    by_check: dict[str, Counter[str]] = defaultdict(Counter)
    for (label, check, _), finding in report.soft.items():
        by_check[check][label] += finding.count
    for check, flagged in sorted(by_check.items()):
        warnings.warn(
            f"schemathesis {check}: {sum(flagged.values())} findings in {len(flagged)} "
            f"operations ({', '.join(sorted(flagged))}); run with -s for examples",
            stacklevel=1,
        )
    if report.logged:
        warnings.warn(
            f"the service logged {sum(f.count for f in report.logged.values())} errors "
            f"while fuzzed: {'; '.join(report.logged)}",
            stacklevel=1,
        )
    # Every operation was exercised (with the key, and without).
    assert all(report.requests[label] > 0 for label in labels + unauth_labels), text
    # Secured operations refuse requests without a key.
    for op in operations:
        if op.definition.raw.get("operationId") in PUBLIC_OPERATIONS:
            continue
        answered = report.statuses[f"{op.label} (no key)"]
        assert set(answered) <= {401, 403, 404}, f"{op.label} without a key: {dict(answered)}"
    assert not report.no_answer, "\n\n".join(report.no_answer[:10])
    assert not report.server_errors, (
        f"{len(report.server_errors)} 5xx answers (seed {SEED}):\n\n"
        + "\n\n".join(report.server_errors[:15])
    )


# -- hostile bodies Schemathesis does not write ---------------------------------------
DEEP_ARRAY = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 3000 + b"1" + b"}" * 3000
HOSTILE_JSON = {
    "nested 5,000 arrays deep": DEEP_ARRAY,
    "nested 3,000 objects deep": DEEP_OBJECT,
    "deep value in a valid body": b'{"user_id": 1, "amount": "1.00", "currency": "USD", "x": '
    + DEEP_ARRAY
    + b"}",
    "1e999999 as user id": b'{"user_id": 1e999999, "amount": "1.00", "currency": "USD"}',
    "user id beyond int64": b'{"user_id": 99999999999999999999999, "amount": "1", '
    b'"currency": "USD"}',
    "NaN amount": b'{"user_id": 1, "amount": "NaN", "currency": "USD"}',
    "sNaN amount": b'{"user_id": 1, "amount": "sNaN", "currency": "USD"}',
    "tiny exponent amount": b'{"user_id": 1, "amount": "1e-999999999", "currency": "USD"}',
    "huge exponent amount": b'{"user_id": 1, "amount": "1e999999999", "currency": "USD"}',
    "NUL in strings": b'{"user_id": 1, "amount": "1.00\\u0000", "currency": "US\\u0000"}',
    "NUL in a destination": b'{"user_id": 1, "amount": "1.00", "currency": "USD", '
    b'"destination": {"iban\\u0000": "DE\\u0000"}}',
    "lone surrogate": b'{"user_id": 1, "amount": "1.00", "currency": "\\ud800SD"}',
    "invalid UTF-8": b'{"user_id": 1, "amount": "\xff\xfe", "currency": "USD"}',
    "duplicate keys": b'{"user_id": 1, "user_id": 2, "amount": "1.00", "currency": "USD"}',
    "empty": b"",
    "null": b"null",
    "a number": b"0",
    "a string near the size limit": b'"' + b"a" * 60_000 + b'"',
    "over the size limit": b'{"x": "' + b"a" * 70_000 + b'"}',
    "BOM then JSON": b'\xef\xbb\xbf{"user_id": 1, "amount": "1.00", "currency": "USD"}',
}
HOSTILE_XML = {
    "deep XML": b"<transaction>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</transaction>",
    "DTD with an entity": b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x "1">]>'
    b"<transaction><user_id>&x;</user_id></transaction>",
    "XXE": b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<transaction><user_id>&x;</user_id></transaction>",
    "unknown encoding": b'<?xml version="1.0" encoding="utf-9"?><transaction><user_id>1'
    b"</user_id><amount>1.00</amount><currency>USD</currency></transaction>",
    "UTF-16 without a declaration": "<transaction><user_id>1</user_id></transaction>".encode(
        "utf-16"
    ),
    "NUL character reference": b"<transaction><user_id>1</user_id><amount>&#0;</amount>"
    b"<currency>USD</currency></transaction>",
    "not XML": b"<<<>>>",
}
HOSTILE_PATHS = [
    "/transactions/%00",
    "/transactions/" + "a" * 5000,
    "/transactions?status=%00&cursor=%00",
    "/transactions?cursor=" + "%FF" * 50,
    "/transactions?user_id=99999999999999999999999",
    "/users/0/balances",
    "/users/99999999999999999999999/balances",
    "/countries/%00%00/gateways",
    "/sandbox/paypal/payments/%00",
    "/reconciliation/issues?limit=0",
]


def test_hostile_bodies_and_paths_never_answer_5xx(demo_database_url: str) -> None:
    """Inputs a schema-driven generator does not write: depth, encodings, NUL, sizes."""
    answers: list[tuple[str, int, str]] = []
    with serve_api(demo_database_url) as api:
        schema = api.get("/schema/openapi.json").json()
        known = {"gateway_id": "paypal", "country": "US", "user_id": "1", "reference": "r"}
        for template, methods in schema["paths"].items():
            path = template.format_map(defaultdict(lambda: "x", known))
            for method, operation in methods.items():
                if "requestBody" not in operation:
                    continue
                for name, body in HOSTILE_JSON.items():
                    r = api.request(
                        method,
                        path,
                        content=body,
                        headers={**ADMIN, "Content-Type": "application/json"},
                    )
                    answers.append((f"{method.upper()} {path} {name}", r.status_code, r.text))
        for path in ("/deposit", "/withdrawal"):
            for name, body in HOSTILE_XML.items():
                r = api.post(
                    path,
                    content=body,
                    headers={
                        **ADMIN,
                        "Content-Type": "application/xml",
                        "Accept": "application/xml",
                    },
                )
                answers.append((f"POST {path} {name}", r.status_code, r.text))
        for path in HOSTILE_PATHS:
            r = api.get(path, headers=ADMIN)
            answers.append((f"GET {path[:60]}", r.status_code, r.text))
    server_errors = [
        f"{what}: {status} {text[:200]}" for what, status, text in answers if status >= 500
    ]
    print(f"\n{len(answers)} hostile requests, {len(server_errors)} answered 5xx")
    assert len(answers) > 100
    assert not server_errors, "\n".join(server_errors)


# -- signed callbacks: past the signature check -------------------------------------
CALLBACK_EXAMPLES = int(os.environ.get("PAYMENTS_FUZZ_CALLBACK_EXAMPLES", "100"))
# Any character, NUL included (a signed callback carrying one used to be a 500).
any_char = st.characters(codec="utf-8")
no_nul = any_char
texts = st.text(alphabet=any_char, max_size=250)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)


def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three in four draws from ``valid``, so most callbacks get past parsing."""
    return st.one_of(valid, valid, valid, odd)


def _json_callbacks(known_ids: list[str]) -> st.SearchStrategy[object]:
    some_text = st.text(alphabet=no_nul, min_size=1, max_size=200)
    document = st.fixed_dictionaries(
        {
            "event_id": _mostly(some_text, st.one_of(texts, st.integers(), st.none())),
            "transaction_id": _mostly(st.sampled_from(known_ids), texts),
            "status": _mostly(st.sampled_from(["completed", "failed"]), texts),
        },
        optional={
            "reference_id": st.one_of(st.none(), texts),
            "message": st.text(alphabet=no_nul, max_size=600),
            "amount": json_values,
            "extra": json_values,
        },
    )
    return _mostly(document, json_values)


def _adyen_items(known_ids: list[str]) -> st.SearchStrategy[NotificationItem]:
    # Identifiers up to 260 characters: event ids past the inbox's 200 must be a 400.
    short = st.text(alphabet=no_nul, max_size=60)  # control characters: not well-formed XML
    xml_safe = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
    required = _mostly(st.text(alphabet=xml_safe, min_size=1, max_size=260), short)
    optional = _mostly(st.text(alphabet=xml_safe, max_size=60), short)
    return st.builds(
        NotificationItem,
        psp_reference=required,
        original_reference=optional,
        merchant_account=_mostly(st.just("PaymentsPlatform"), short),
        merchant_reference=_mostly(st.sampled_from(known_ids), short),
        value=st.integers(0, 10**18 - 1),
        currency=_mostly(
            st.sampled_from(["EUR", "USD", "JPY"]) | st.from_regex("[A-Z]{3}", fullmatch=True),
            short,
        ),
        event_code=_mostly(
            st.sampled_from(
                [
                    "AUTHORISATION",
                    "PAYOUT_THIRDPARTY",
                    "PAYOUT_DECLINE",
                    "CANCELLATION",
                    "REPORT_AVAILABLE",
                ]
            ),
            short,
        ),
        success=st.booleans(),
        reason=optional,
        event_date=optional,
    )


def test_signed_callbacks_never_answer_5xx(
    demo_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Generated callback documents, correctly signed, so they reach parsing and storage."""
    caplog.set_level(logging.ERROR)
    answers: Counter[tuple[str, int]] = Counter()
    server_errors: list[str] = []
    with serve_api(demo_database_url) as api:
        known_ids = _known_values(api)["transaction_id"]
        fuzz_settings = settings(
            max_examples=CALLBACK_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )

        @seed(SEED)
        @fuzz_settings
        @given(document=_json_callbacks(known_ids), gateway=st.sampled_from(["paypal", "stripe"]))
        def json_callbacks(document: object, gateway: str) -> None:
            body = json.dumps(document).encode()
            signature = sign_json(body, [WEBHOOK_SECRETS[gateway]], int(time.time()))
            r = api.post(
                f"/callback/{gateway}",
                content=body,
                headers={"Content-Type": "application/json", "X-Signature": signature},
            )
            answers[(gateway, r.status_code)] += 1
            if r.status_code >= 500:
                server_errors.append(f"{gateway} {body[:300]!r}: {r.status_code} {r.text[:200]}")

        @seed(SEED)
        @fuzz_settings
        @given(items=st.lists(_adyen_items(known_ids), min_size=1, max_size=3))
        def adyen_callbacks(items: list[NotificationItem]) -> None:
            signed = [sign_adyen_item(item, WEBHOOK_SECRETS["adyen"]) for item in items]
            body = build_notification(signed)
            r = api.post("/callback/adyen", content=body, headers={"Content-Type": "text/xml"})
            answers[("adyen", r.status_code)] += 1
            if r.status_code >= 500:
                server_errors.append(f"adyen {body[:600]!r}: {r.status_code} {r.text[:200]}")

        json_callbacks()
        adyen_callbacks()
        time.sleep(0.5)  # let the workers apply what was accepted
    report = Report()
    _collect_logs(report, caplog.records)
    print(f"\nsigned callbacks (seed {SEED}): {dict(sorted(answers.items()))}")
    for key, finding in report.logged.items():
        print(f"  logged x{finding.count} {key}  e.g. {finding.example!r}")
    assert sum(answers.values()) >= 2 * min(CALLBACK_EXAMPLES, 10)
    assert not server_errors, "\n".join(server_errors[:10])


def _nul_json_callback() -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps({"event_id": "evt\x00", "transaction_id": "t", "status": "completed"})
    signature = sign_json(body.encode(), [WEBHOOK_SECRETS["paypal"]], int(time.time()))
    return "paypal", body.encode(), {"Content-Type": "application/json", "X-Signature": signature}


def _long_adyen_event_id() -> tuple[str, bytes, dict[str, str]]:
    item = NotificationItem(
        psp_reference="8" * 300,
        original_reference="",
        merchant_account="PaymentsPlatform",
        merchant_reference="t",
        value=1250,
        currency="EUR",
        event_code="AUTHORISATION",
        success=True,
    )
    body = build_notification([sign_adyen_item(item, WEBHOOK_SECRETS["adyen"])])
    return "adyen", body, {"Content-Type": "text/xml"}


def _unknown_xml_encoding() -> tuple[str, bytes, dict[str, str]]:
    _, body, headers = _long_adyen_event_id()
    body = body.replace(b"8" * 300, b"8816178952380553").replace(b'"utf-8"', b'"utf-9"')
    return "adyen", body, headers


# Found by the fuzzers (fixed): each of these answered 500 before.
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_nul_json_callback, id="signed JSON callback with NUL (inbox insert)"),
        pytest.param(_long_adyen_event_id, id="Adyen event id over 200 chars (inbox check)"),
        pytest.param(_unknown_xml_encoding, id="Adyen XML in an unknown encoding (LookupError)"),
    ],
)
def test_known_callback_bugs_are_refused_with_4xx(
    demo_database_url: str, make: Callable[[], tuple[str, bytes, dict[str, str]]]
) -> None:
    gateway, body, headers = make()
    with serve_api(demo_database_url) as api:
        r = api.post(f"/callback/{gateway}", content=body, headers=headers)
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.text[:200]}"
