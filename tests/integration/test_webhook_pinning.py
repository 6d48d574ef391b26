"""DNS-rebinding-safe sends through the real sender and httpx: the request goes
to the address the target guard validated, never to a second lookup's answer.

The receiver listens on 127.0.0.1 behind a made-up name that no DNS server
knows; the guard gets a stub resolver for that name, and (only here) treats
127.0.0.1 as public, so production's rule stays as it is. That the request
arrives at all proves httpx connected to the pinned address instead of
resolving the name.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import httpx
import pytest
import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.webhooks.sender import HttpWebhookSender
from adapters.webhooks.targets import ResolvingWebhookTargets
from tests.support.webhook_receiver import receiver

NAME = "hooks.platform.example"  # .example never resolves (RFC 2606)
SECRET = "whsec_pinning_0123456789"
BODY = b'{"event_id":"e1","type":"transaction.completed"}'


class LocalDns:
    """Answers NAME with 127.0.0.1, then (if asked again) an address nobody serves."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return ["127.0.0.1"] if len(self.asked) == 1 else ["127.0.0.2"]


def loopback_is_public_here(address: str) -> bool:
    return address == "127.0.0.1"


def targets(dns: LocalDns) -> ResolvingWebhookTargets:
    return ResolvingWebhookTargets(False, dns, is_public=loopback_is_public_here)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for NAME only, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def pinned_url(url: str) -> str:
    return url.replace("127.0.0.1", NAME)


async def test_a_plain_http_send_reaches_the_receiver_at_the_checked_address() -> None:
    dns = LocalDns()
    with receiver() as platform:
        url = pinned_url(platform.url)
        async with httpx.AsyncClient(trust_env=False) as client:
            sender = HttpWebhookSender(client, targets(dns))
            result = await sender.send(url, SECRET, "e1", BODY)
            assert result.delivered, result.error
            (got,) = platform.wait_for(1)
            # The next send asks again and is refused: the answer moved inside.
            again = await sender.send(url, SECRET, "e2", BODY)
    assert dns.asked == [NAME, NAME]
    assert got.headers["host"] == f"{NAME}:{httpx.URL(url).port}"
    assert got.body == BODY
    stripe.WebhookSignature.verify_header(
        BODY.decode(), got.headers["payments-signature"], SECRET, tolerance=300
    )
    assert again.status_code is None
    assert len(platform.requests) == 1


async def test_an_https_send_to_the_pinned_address_verifies_the_certificate_of_the_name(
    certificate: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server, trusting = certificate
    with receiver(tls=server) as platform:
        url = pinned_url(platform.url)
        assert url.startswith(f"https://{NAME}:")
        async with httpx.AsyncClient(verify=trusting, trust_env=False) as client:
            result = await HttpWebhookSender(client, targets(LocalDns())).send(
                url, SECRET, "e1", BODY
            )
            assert result.delivered, result.error
            assert platform.wait_for(1)[0].headers["host"].startswith(f"{NAME}:")
            # The certificate is for the name only: straight to the IP (no SNI of
            # the name) verification fails, so the send above verified the name.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post(platform.url, content=BODY)
    assert len(platform.requests) == 1
