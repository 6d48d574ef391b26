"""Dashboard sessions and form helpers, without a server."""

from __future__ import annotations

import pytest

from domain.routing import Priority
from entrypoints.http.dashboard.forms import BadInput
from entrypoints.http.dashboard.forms import back_to as _back_to
from entrypoints.http.dashboard.forms import swap as _swap
from entrypoints.http.dashboard.sessions import SessionSigner, derive_secret


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


SECRET = derive_secret("k1:" + "A" * 44, ["admin-key"])


def signer(clock: FakeClock | None = None, **limits: int) -> SessionSigner:
    return SessionSigner(SECRET, clock=clock or FakeClock(), **limits)


def test_a_cookie_opens_the_session_it_was_issued_for() -> None:
    s = signer()
    cookie, session = s.issue("admin:abc")
    opened = s.open(cookie)
    assert opened == session
    assert opened.actor == "admin:abc"
    assert "admin-key" not in cookie


def test_every_process_of_one_deployment_accepts_the_cookie() -> None:
    # Another worker: same configuration, so the same derived key.
    cookie, _ = signer().issue("admin:abc")
    other = SessionSigner(derive_secret("k1:" + "A" * 44, ["admin-key"]), clock=FakeClock())
    assert other.open(cookie) is not None
    # Another deployment, or an admin key removed: no longer valid.
    for changed in (
        derive_secret("k2:" + "B" * 44, ["admin-key"]),
        derive_secret("k1:" + "A" * 44, ["admin-key", "another"]),
        derive_secret(None, ["admin-key"]),
    ):
        assert SessionSigner(changed, clock=FakeClock()).open(cookie) is None
    assert derive_secret(None, []) != derive_secret(None, [])  # random without material


def test_tampered_or_foreign_cookies_open_nothing() -> None:
    s = signer()
    cookie, _ = s.issue("admin:abc")
    version, body, mac = cookie.split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    flash = s.seal_messages([("ok", "hi")])
    for bad in (
        None,
        "",
        "x",
        f"{version}.{forged_body}.{mac}",
        f"v0.{body}.{mac}",
        f"{version}.{body}.",
        f"{version}.{body}.{mac}é",
        cookie + "x" * 1000,
        flash,  # a message cookie never passes as a session
    ):
        assert s.open(bad) is None, bad


def test_a_session_expires_when_idle_and_after_its_absolute_lifetime() -> None:
    clock = FakeClock()
    s = signer(clock, idle_timeout_s=600, absolute_timeout_s=1500)
    cookie, session = s.issue("admin:abc")
    clock.now += 30
    assert s.refreshed(session) is None  # not worth a new cookie yet
    clock.now += 570
    assert s.open(cookie) is not None
    cookie = s.refreshed(s.open(cookie)) or ""  # used: the idle clock restarts
    clock.now += 590
    assert s.open(cookie) is not None
    cookie = s.refreshed(s.open(cookie)) or ""
    clock.now += 590  # 1780 s since login: past the absolute lifetime
    assert s.open(cookie) is None
    cookie, _ = s.issue("admin:abc")
    clock.now += 601
    assert s.open(cookie) is None  # idle too long


def test_logins_get_fresh_ids_and_a_logout_need_outlive_only_the_absolute_lifetime() -> None:
    # The revocation itself is the SessionRevocations store's: see
    # tests/unit/test_dashboard_login.py and tests/integration/test_dashboard_revocations.py.
    clock = FakeClock()
    s = signer(clock, absolute_timeout_s=1500)
    a, one = s.issue("admin:abc")
    b, two = s.issue("admin:abc")
    assert a != b
    assert one.nonce != two.nonce
    assert s.expires_at(one).timestamp() == clock.now + 1500
    clock.now += 1501
    assert s.open(a) is None  # past expires_at the cookie is refused without the store


def test_csrf_tokens_are_per_session_and_compared_exactly() -> None:
    s = signer()
    _, one = s.issue("admin:1")
    _, two = s.issue("admin:2")
    assert one.csrf_token != two.csrf_token
    assert one.csrf_ok(one.csrf_token)
    assert s.open(s.issue("admin:1")[0]) != one
    for bad in (two.csrf_token, None, "", one.csrf_token + "x", "é" * 43):
        assert not one.csrf_ok(bad)


def test_messages_are_signed_and_short_lived() -> None:
    clock = FakeClock()
    s = signer(clock)
    sealed = s.seal_messages([("ok", "saved"), ("error", "x" * 1000)])
    assert s.open_messages(sealed) == [("ok", "saved"), ("error", "x" * 300)]
    assert s.open_messages(sealed.replace(".", ".x", 1)) == []
    assert s.open_messages(s.issue("admin:1")[0]) == []  # a session is no message
    clock.now += 121
    assert s.open_messages(sealed) == []


def test_moving_a_gateway_swaps_numbers_with_its_neighbour() -> None:
    entries = [Priority("stripe", 10), Priority("paypal", 20), Priority("adyen", 30)]
    assert _swap(entries, "paypal", "up") == [
        Priority("stripe", 20),
        Priority("paypal", 10),
        Priority("adyen", 30),
    ]
    assert _swap(entries, "paypal", "down") == [
        Priority("stripe", 10),
        Priority("paypal", 30),
        Priority("adyen", 20),
    ]
    # At the edges nothing moves.
    assert _swap(entries, "stripe", "up") == entries
    assert _swap(entries, "adyen", "down") == entries
    with pytest.raises(BadInput):
        _swap(entries, "nope", "up")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/transactions", "/dashboard/transactions"),
        ("/dashboard/routing?country=GB", "/dashboard/routing?country=GB"),
        ("/dashboard", "/dashboard"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboardx", "/dashboard"),
        ("/dashboard/\r\nSet-Cookie: x=1", "/dashboard"),
        ("/dashboard/\\evil", "/dashboard"),
        ("", "/dashboard"),
    ],
)
def test_redirects_after_forms_stay_on_dashboard_pages(target: str, expected: str) -> None:
    assert _back_to(target, "/dashboard") == expected
