"""Callback signatures: Stripe's scheme for JSON, Adyen's SOAP notifications.

Compatibility tests run the providers' own Python libraries (dev dependencies
``stripe`` and ``Adyen``) against our code in both directions, so a drift from
either scheme fails here rather than in production.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import replace
from typing import Any

import pytest
import stripe
from Adyen import util as adyen_util  # type: ignore[import-untyped]

from adapters.gateways.signing import (
    ACCEPTED,
    NotificationItem,
    adyen_hmac,
    adyen_signing_string,
    build_notification,
    parse_notification,
    sign_adyen_item,
    sign_json,
    verify_adyen_item,
    verify_json,
)
from domain.errors import InvalidSignature, MalformedCallback

# -- JSON: Stripe's scheme in X-Signature -------------------------------------------
SECRET = "whsec_current_0123456789"
OLD_SECRET = "whsec_previous_9876543210"
BODY = b'{"id":"evt_1","type":"payment.completed","data":{"amount":"12.50","note":"caf\xc3\xa9"}}'
T = 1_700_000_000


def stripe_style_header(body: bytes, secret: str, timestamp: int) -> str:
    """A header computed by hand the way Stripe's servers do it."""
    payload = f"{timestamp}.{body.decode()}".encode()
    return f"t={timestamp},v1={hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()}"


def test_sign_json_format() -> None:
    header = sign_json(BODY, [SECRET], T)
    assert header == stripe_style_header(BODY, SECRET, T)
    assert verify_json(header, BODY, [SECRET], now=T) == T


def test_stripe_library_accepts_our_header() -> None:
    now = int(time.time())
    header = sign_json(BODY, [SECRET], now)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, 300)
    # Also with a rotation header: Stripe picks the v1 that matches its secret.
    rotated = sign_json(BODY, [OLD_SECRET, SECRET], now)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), rotated, SECRET, 300)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), rotated, OLD_SECRET, 300)


def test_stripe_library_rejects_our_header_for_another_secret() -> None:
    header = sign_json(BODY, [SECRET], int(time.time()))
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, OLD_SECRET, 300)


def test_we_accept_stripe_generated_headers() -> None:
    by_hand = stripe_style_header(BODY, SECRET, T)
    assert verify_json(by_hand, BODY, [SECRET], now=T + 10) == T
    by_stripe = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, T)
    assert by_stripe == by_hand
    assert verify_json(by_stripe, BODY, [SECRET], now=T) == T


def test_stripe_test_mode_v0_is_ignored() -> None:
    header = stripe_style_header(BODY, SECRET, T) + ",v0=6ffbb59b2300aae63f272406069a9788"
    assert verify_json(header, BODY, [SECRET], now=T) == T


@pytest.mark.parametrize("receiver", [[SECRET], [OLD_SECRET], [OLD_SECRET, SECRET], [SECRET, "x"]])
def test_rotation_either_secret_accepted(receiver: list[str]) -> None:
    header = sign_json(BODY, [OLD_SECRET, SECRET], T)
    assert header.count(",v1=") == 2
    assert verify_json(header, BODY, receiver, now=T) == T


def test_receiver_rotation_accepts_sender_on_old_secret() -> None:
    header = sign_json(BODY, [OLD_SECRET], T)
    assert verify_json(header, BODY, [SECRET, OLD_SECRET], now=T) == T


def test_wrong_secret() -> None:
    header = sign_json(BODY, [OLD_SECRET], T)
    with pytest.raises(InvalidSignature) as caught:
        verify_json(header, BODY, [SECRET], now=T)
    assert SECRET not in str(caught.value)
    assert OLD_SECRET not in str(caught.value)


def test_no_secrets_configured_verifies_nothing() -> None:
    header = sign_json(BODY, [SECRET], T)
    for secrets in ([], [""]):
        with pytest.raises(InvalidSignature):
            verify_json(header, BODY, secrets, now=T)


@pytest.mark.parametrize(
    "tampered",
    [BODY.replace(b"12.50", b"99.50"), BODY + b" ", BODY[:-1], b""],
)
def test_tampered_body(tampered: bytes) -> None:
    header = sign_json(BODY, [SECRET], T)
    with pytest.raises(InvalidSignature):
        verify_json(header, tampered, [SECRET], now=T)


def test_tampered_timestamp() -> None:
    header = sign_json(BODY, [SECRET], T).replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(InvalidSignature):
        verify_json(header, BODY, [SECRET], now=T)


def test_tolerance_edges() -> None:
    header = sign_json(BODY, [SECRET], T)
    assert verify_json(header, BODY, [SECRET], now=T + 300) == T
    assert verify_json(header, BODY, [SECRET], now=T - 300) == T
    assert verify_json(header, BODY, [SECRET], now=T + 30, tolerance_s=30) == T


def test_stale_timestamp() -> None:
    header = sign_json(BODY, [SECRET], T)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_json(header, BODY, [SECRET], now=T + 300.5)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_json(header, BODY, [SECRET], now=T + 31, tolerance_s=30)


def test_future_timestamp() -> None:
    header = sign_json(BODY, [SECRET], T + 301)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_json(header, BODY, [SECRET], now=T)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        verify_json(header, BODY, [SECRET], now=T)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "t=,v1=abc",
        "t=abc,v1=abc",
        "t=-5,v1=abc",
        "t=+5,v1=abc",
        f"t={T},t={T},v1=abc",
        "v1=abc",
        "=,=",
        f"t={T},v1=" + ",v1=".join(["0" * 64] * 17),
        f"t={T},v1=é",
    ],
)
def test_garbage_header(header: str) -> None:
    with pytest.raises(InvalidSignature):
        verify_json(header, BODY, [SECRET], now=T)


@pytest.mark.parametrize("header", [f"t={T}", f"t={T},v0=abc", f"t={T},"])
def test_header_with_only_t(header: str) -> None:
    with pytest.raises(InvalidSignature):
        verify_json(header, BODY, [SECRET], now=T)


def test_sign_json_refuses_missing_secret() -> None:
    for secrets in ([], [""], [SECRET, ""]):
        with pytest.raises(ValueError, match="secret"):
            sign_json(BODY, secrets, T)


# -- SOAP: Adyen notifications ---------------------------------------------------------
HEX_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
OLD_HEX_KEY = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"

ITEM = NotificationItem(
    psp_reference="8816178952380553",
    original_reference="",
    merchant_account="PaymentsPlatform",
    merchant_reference="tx-0c5f",
    value=1250,
    currency="EUR",
    event_code="AUTHORISATION",
    success=True,
    reason="",
    event_date="2024-05-01T12:00:00+02:00",
    additional_data={"transactionId": "tx-0c5f"},
)


def notification_to_adyen_dict(item: NotificationItem) -> dict[str, Any]:
    """A NotificationRequestItem shaped as Adyen's library (and JSON webhooks) has it.

    ``success`` is the wire string: Adyen's library signs ``str(value)``, so a
    Python bool would sign "True" instead of the "true" Adyen's servers sign.
    """
    return {
        "pspReference": item.psp_reference,
        "originalReference": item.original_reference,
        "merchantAccountCode": item.merchant_account,
        "merchantReference": item.merchant_reference,
        "amount": {"value": item.value, "currency": item.currency},
        "eventCode": item.event_code,
        "eventDate": item.event_date,
        "reason": item.reason,
        "success": "true" if item.success else "false",
        "additionalData": dict(item.additional_data),
    }


def test_signing_string() -> None:
    assert adyen_signing_string(ITEM) == (
        "8816178952380553::PaymentsPlatform:tx-0c5f:1250:EUR:AUTHORISATION:true"
    )
    refused = replace(ITEM, success=False, original_reference="881", value=0)
    assert adyen_signing_string(refused).endswith(
        ":881:PaymentsPlatform:tx-0c5f:0:EUR:AUTHORISATION:false"
    )


def test_adyen_published_example() -> None:
    # The example of Adyen's HMAC documentation and library tests.
    item = NotificationItem(
        psp_reference="7914073381342284",
        original_reference="",
        merchant_account="TestMerchant",
        merchant_reference="TestPayment-1407325143704",
        value=1130,
        currency="EUR",
        event_code="AUTHORISATION",
        success=True,
    )
    assert adyen_hmac(item, HEX_KEY) == "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="


def test_adyen_library_signature_verifies_with_us() -> None:
    wire = notification_to_adyen_dict(ITEM)
    del wire["additionalData"]
    signature = adyen_util.generate_notification_sig(wire, HEX_KEY).decode()
    signed = replace(ITEM, additional_data={**ITEM.additional_data, "hmacSignature": signature})
    verify_adyen_item(signed, [HEX_KEY])
    assert signature == adyen_hmac(ITEM, HEX_KEY)


def test_adyen_library_accepts_our_signature() -> None:
    signed = sign_adyen_item(ITEM, HEX_KEY)
    assert ITEM.additional_data == {"transactionId": "tx-0c5f"}  # the original is untouched
    assert signed.additional_data["hmacSignature"] == adyen_hmac(ITEM, HEX_KEY)
    wire = notification_to_adyen_dict(signed)
    assert adyen_util.is_valid_hmac_notification(wire, HEX_KEY) is True
    # Also in the envelope shape the library unwraps.
    envelope = {"live": "false", "notificationItems": [{"NotificationRequestItem": wire}]}
    assert adyen_util.is_valid_hmac_notification(envelope, HEX_KEY) is True
    assert adyen_util.is_valid_hmac_notification(wire, OLD_HEX_KEY) is False


def test_adyen_library_on_parsed_items() -> None:
    refused = replace(ITEM, success=False, reason="Refused", original_reference="8816000000000001")
    items = [sign_adyen_item(i, HEX_KEY) for i in (ITEM, refused)]
    for parsed in parse_notification(build_notification(items)):
        assert adyen_util.is_valid_hmac_notification(notification_to_adyen_dict(parsed), HEX_KEY)


@pytest.mark.parametrize(
    "change",
    [
        {"value": 1251},
        {"success": False},
        {"merchant_reference": "tx-other"},
        {"psp_reference": "8816178952380554"},
        {"original_reference": "1"},
        {"merchant_account": "Other"},
        {"currency": "USD"},
        {"event_code": "CANCELLATION"},
    ],
)
def test_tampered_item_fails(change: dict[str, Any]) -> None:
    tampered = replace(sign_adyen_item(ITEM, HEX_KEY), **change)
    with pytest.raises(InvalidSignature):
        verify_adyen_item(tampered, [HEX_KEY])


def test_unsigned_fields_may_change() -> None:
    # Adyen signs eight fields only; reason, eventDate and additionalData are not covered.
    signed = sign_adyen_item(ITEM, HEX_KEY)
    verify_adyen_item(replace(signed, reason="anything", event_date="x"), [HEX_KEY])


def test_key_rotation() -> None:
    signed_old = sign_adyen_item(ITEM, OLD_HEX_KEY)
    verify_adyen_item(signed_old, [HEX_KEY, OLD_HEX_KEY])
    verify_adyen_item(sign_adyen_item(ITEM, HEX_KEY), [HEX_KEY, OLD_HEX_KEY])
    verify_adyen_item(sign_adyen_item(ITEM, HEX_KEY.lower()), [HEX_KEY])
    with pytest.raises(InvalidSignature):
        verify_adyen_item(signed_old, [HEX_KEY])
    with pytest.raises(InvalidSignature):
        verify_adyen_item(signed_old, [])


@pytest.mark.parametrize("signature", [None, "", "not-base64", "é"])
def test_missing_or_bad_signature(signature: str | None) -> None:
    data = {} if signature is None else {"hmacSignature": signature}
    with pytest.raises(InvalidSignature):
        verify_adyen_item(replace(ITEM, additional_data=data), [HEX_KEY])


def test_non_hex_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="hexadecimal") as caught:
        adyen_hmac(ITEM, "not-hex-secret")
    assert "not-hex-secret" not in str(caught.value)


def test_round_trip_preserves_every_field() -> None:
    items = [
        sign_adyen_item(ITEM, HEX_KEY),
        sign_adyen_item(
            NotificationItem(
                psp_reference="8816178952380999",
                original_reference="8816178952380553",
                merchant_account="PaymentsPlatform",
                merchant_reference="tx <&> \"'é",
                value=0,
                currency="JPY",
                event_code="PAYOUT_THIRDPARTY",
                success=False,
                reason="Payout refused: 12/2030",
                event_date="",
                additional_data={"a": "", "b": "x<y&z"},
            ),
            OLD_HEX_KEY,
        ),
        NotificationItem("1", "", "M", "r", 5, "GBP", "REFUND", True),
    ]
    body = build_notification(items, live=True)
    assert parse_notification(body) == items
    assert parse_notification(build_notification(items[:1])) == items[:1]
    verify_adyen_item(parse_notification(body)[1], [OLD_HEX_KEY])


def test_envelope_is_namespaced_like_adyen() -> None:
    body = build_notification([sign_adyen_item(ITEM, HEX_KEY)]).decode()
    assert '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"' in body
    assert '<ns1:sendNotification xmlns:ns1="http://notification.services.adyen.com">' in body
    assert "<ns1:notification>" in body
    assert '<live xmlns="http://notification.services.adyen.com">false</live>' in body
    assert '<currency xmlns="http://common.services.adyen.com">EUR</currency>' in body
    assert '<value xmlns="http://common.services.adyen.com">1250</value>' in body
    assert '<key xsi:type="xsd:string">hmacSignature</key>' in body
    assert '<originalReference xsi:nil="true"/>' in body
    assert "<success>true</success>" in body


# A notification as Adyen's servers send it (prefixes and layout differ from ours).
ADYEN_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <SOAP-ENV:Body>
    <ns1:sendNotification xmlns:ns1="http://notification.services.adyen.com">
      <ns1:notification>
        <live xmlns="http://notification.services.adyen.com">false</live>
        <notificationItems xmlns="http://notification.services.adyen.com">
          <NotificationRequestItem>
            <additionalData>
              <entry>
                <key xsi:type="xsd:string">hmacSignature</key>
                <value xsi:type="xsd:string">coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=</value>
              </entry>
              <entry><key xsi:type="xsd:string">authCode</key>
                <value xsi:type="xsd:string">58747</value></entry>
            </additionalData>
            <amount>
              <currency xmlns="http://common.services.adyen.com">EUR</currency>
              <value xmlns="http://common.services.adyen.com">1130</value>
            </amount>
            <eventCode>AUTHORISATION</eventCode>
            <eventDate>2019-05-06T17:15:34.121+02:00</eventDate>
            <merchantAccountCode>TestMerchant</merchantAccountCode>
            <merchantReference>TestPayment-1407325143704</merchantReference>
            <operations><string>CANCEL</string><string>CAPTURE</string></operations>
            <originalReference xsi:nil="true"/>
            <paymentMethod>visa</paymentMethod>
            <pspReference>7914073381342284</pspReference>
            <reason>58747:1111:03/2030</reason>
            <success>true</success>
          </NotificationRequestItem>
        </notificationItems>
      </ns1:notification>
    </ns1:sendNotification>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


def test_parses_adyen_sample() -> None:
    [item] = parse_notification(ADYEN_SAMPLE)
    assert item == NotificationItem(
        psp_reference="7914073381342284",
        original_reference="",
        merchant_account="TestMerchant",
        merchant_reference="TestPayment-1407325143704",
        value=1130,
        currency="EUR",
        event_code="AUTHORISATION",
        success=True,
        reason="58747:1111:03/2030",
        event_date="2019-05-06T17:15:34.121+02:00",
        additional_data={
            "hmacSignature": "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=",
            "authCode": "58747",
        },
    )
    verify_adyen_item(item, [HEX_KEY])


def _sample_with(old: bytes, new: bytes) -> bytes:
    assert old in ADYEN_SAMPLE
    return ADYEN_SAMPLE.replace(old, new)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<soap:Envelope",
        b"<a/>",
        _sample_with(b"</SOAP-ENV:Envelope>", b""),
        # No items at all.
        _sample_with(b"<NotificationRequestItem>", b"<Other>").replace(
            b"</NotificationRequestItem>", b"</Other>"
        ),
        # Missing required fields.
        _sample_with(b"<pspReference>7914073381342284</pspReference>", b""),
        _sample_with(b"<merchantAccountCode>TestMerchant</merchantAccountCode>", b""),
        _sample_with(b"<merchantReference>TestPayment-1407325143704</merchantReference>", b""),
        _sample_with(b"<eventCode>AUTHORISATION</eventCode>", b"<eventCode/>"),
        _sample_with(b"<success>true</success>", b""),
        _sample_with(b'<currency xmlns="http://common.services.adyen.com">EUR</currency>', b""),
        _sample_with(b'<value xmlns="http://common.services.adyen.com">1130</value>', b""),
        # Ill-typed values.
        _sample_with(b">1130</value>", b">11.30</value>"),
        _sample_with(b">1130</value>", b">-1130</value>"),
        _sample_with(b">1130</value>", b">01130</value>"),
        _sample_with(b">1130</value>", b">1e3</value>"),
        _sample_with(b">1130</value>", b">12345678901234567890</value>"),
        _sample_with(b">EUR</currency>", b">euro</currency>"),
        _sample_with(b"<success>true</success>", b"<success>yes</success>"),
        _sample_with(b"<success>true</success>", b"<success>1</success>"),
        _sample_with(b"<success>true</success>", b"<success><b>true</b></success>"),
        # Repeated fields: the signed and the applied value could differ.
        _sample_with(
            b"<success>true</success>", b"<success>true</success><success>false</success>"
        ),
        _sample_with(
            b"<entry><key",
            b"<entry><key>hmacSignature</key><value>x</value></entry><entry><key",
        ),
        _sample_with(b'<key xsi:type="xsd:string">authCode</key>', b""),
    ],
)
def test_malformed_notifications(body: bytes) -> None:
    with pytest.raises(MalformedCallback):
        parse_notification(body)


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE lolz [<!ENTITY lol "lol">]>',
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd">',
        b"<!DOCTYPE x>",
    ],
)
def test_doctype_refused(prolog: bytes) -> None:
    body = _sample_with(b"<SOAP-ENV:Envelope ", prolog + b"\n<SOAP-ENV:Envelope ")
    with pytest.raises(MalformedCallback):
        parse_notification(body)


def test_utf16_doctype_refused() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "e">]>' + "<a>&e;</a>"
    with pytest.raises(MalformedCallback):
        parse_notification(body.encode("utf-16"))


def test_live_flag_is_ignored() -> None:
    assert parse_notification(_sample_with(b">false</live>", b">maybe</live>"))
    assert parse_notification(
        _sample_with(b'<live xmlns="http://notification.services.adyen.com">false</live>', b"")
    )


def test_build_refuses_no_items() -> None:
    with pytest.raises(ValueError, match="item"):
        build_notification([])


def test_accepted_answer() -> None:
    assert ACCEPTED == b"[accepted]"
