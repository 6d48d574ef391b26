"""The webhook sender: Stripe's signature scheme, proven with Stripe's own library."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from adapters.webhooks.sender import EVENT_ID_HEADER, SIGNATURE_HEADER, HttpWebhookSender
from adapters.webhooks.targets import ResolvingWebhookTargets
from domain.errors import InvalidInput

SECRET = "whsec_unit_0123456789"
BODY = '{"event_id":"e1","type":"transaction.completed","data":{"note":"café"}}'.encode()
NOW = 1_700_000_000


def sender_answering(status: int, seen: list[httpx.Request]) -> HttpWebhookSender:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers={"Location": "http://10.0.0.1/"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)
    return HttpWebhookSender(client, now=lambda: NOW)


async def test_the_signature_is_what_stripe_verifies() -> None:
    seen: list[httpx.Request] = []
    result = await sender_answering(204, seen).send("https://p.example/h", SECRET, "e1", BODY)
    assert result.delivered
    assert result.status_code == 204
    (request,) = seen
    assert request.content == BODY
    assert request.headers[EVENT_ID_HEADER] == "e1"
    assert request.headers["content-type"] == "application/json"
    header = request.headers[SIGNATURE_HEADER]
    assert header.startswith(f"t={NOW},v1=")
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, "whsec_other", tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode() + " ", header, SECRET, tolerance=None)


@pytest.mark.parametrize("status", [302, 404, 500, 503])
async def test_anything_but_2xx_is_not_delivered_and_redirects_are_not_followed(
    status: int,
) -> None:
    seen: list[httpx.Request] = []
    result = await sender_answering(status, seen).send("https://p.example/h", SECRET, "e1", BODY)
    assert not result.delivered
    assert result.status_code == status
    assert len(seen) == 1


async def test_a_timeout_or_refusal_is_no_status_and_never_raises() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    result = await HttpWebhookSender(client).send("https://p.example/h", SECRET, "e1", BODY)
    assert result.status_code is None
    assert not result.delivered
    assert result.error is not None
    assert "ConnectError" in result.error


async def test_a_target_refused_at_send_time_is_not_contacted() -> None:
    seen: list[httpx.Request] = []

    class Refusing:
        async def check(self, url: str) -> str | None:
            raise InvalidInput("internal address")

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    result = await HttpWebhookSender(client, Refusing()).send("http://x/", SECRET, "e1", BODY)
    assert result.status_code is None
    assert seen == []


async def test_a_server_that_trickles_its_answer_is_cut_off_at_the_total_timeout() -> None:
    async def trickle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(trickle))
    sender = HttpWebhookSender(client, total_timeout_s=0.05)
    result = await sender.send("https://p.example/h", SECRET, "e1", BODY)
    assert result.status_code is None
    assert result.latency_ms < 1000


class Rebinding:
    """A DNS server that answers a public address once, then an internal one."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


def pinned_sender(
    resolve: Rebinding, seen: list[httpx.Request], allow_private: bool = False
) -> HttpWebhookSender:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    targets = ResolvingWebhookTargets(allow_private, resolve)
    return HttpWebhookSender(client, targets, now=lambda: NOW)


async def test_an_https_send_goes_to_the_address_checked_with_the_hostname_for_tls() -> None:
    seen: list[httpx.Request] = []
    dns = Rebinding("93.184.216.34", "127.0.0.1")
    sender = pinned_sender(dns, seen)
    result = await sender.send("https://hooks.platform.example:8443/in?x=1", SECRET, "e1", BODY)
    assert result.delivered, result.error
    (request,) = seen
    assert dns.asked == [("hooks.platform.example", 8443)]  # once: httpx never resolves it
    assert request.url.host == "93.184.216.34"
    assert request.url.port == 8443
    assert request.url.raw_path == b"/in?x=1"
    assert request.headers["host"] == "hooks.platform.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.platform.example"
    stripe.WebhookSignature.verify_header(
        BODY.decode(), request.headers[SIGNATURE_HEADER], SECRET, tolerance=None
    )
    # The next send checks again: the rebound (internal) answer is refused, not contacted.
    again = await sender.send("https://hooks.platform.example:8443/in?x=1", SECRET, "e2", BODY)
    assert again.status_code is None
    assert len(seen) == 1


async def test_an_http_send_goes_to_the_checked_ipv6_address_with_the_original_host() -> None:
    seen: list[httpx.Request] = []
    sender = pinned_sender(Rebinding("2606:4700::6810:84e5"), seen)
    result = await sender.send("http://hooks.platform.example/in", SECRET, "e1", BODY)
    assert result.delivered, result.error
    (request,) = seen
    assert str(request.url) == "http://[2606:4700::6810:84e5]/in"
    assert request.headers["host"] == "hooks.platform.example"
    assert "sni_hostname" not in request.extensions  # no TLS: nothing to name


async def test_when_private_targets_are_allowed_nothing_is_resolved_or_pinned() -> None:
    seen: list[httpx.Request] = []
    dns = Rebinding("93.184.216.34")
    await pinned_sender(dns, seen, allow_private=True).send(
        "https://p.example/h", SECRET, "e1", BODY
    )
    assert dns.asked == []
    assert seen[0].url.host == "p.example"
    assert "sni_hostname" not in seen[0].extensions


async def test_during_a_roll_both_secrets_sign_and_each_verifies_alone() -> None:
    seen: list[httpx.Request] = []
    old = "whsec_old_9876543210"
    await sender_answering(200, seen).send("https://p.example/h", SECRET, "e1", BODY, old)
    header = seen[0].headers[SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    for secret in (SECRET, old):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, secret, tolerance=None)
