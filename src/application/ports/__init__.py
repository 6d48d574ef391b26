"""Ports: what the use cases need from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance). Nothing here names a
driver or framework type. One module per concern; every name is re-exported
here, so ``from application.ports import X`` is the way to import them:

- ``unit_of_work``: the database transaction and the repositories it holds;
- ``transactions``, ``users``, ``routing``, ``ledger``, ``limits``: what it stores;
- ``callbacks``, ``outbox``: gateway callbacks in, messages out;
- ``audit``: the audit trail and reconciliation issues;
- ``gateways``: payment providers and what we know of them;
- ``idempotency``, ``sessions``, ``clock``: keys, logged-out sessions, time and ids;
- ``webhooks``: the platforms' endpoints, the delivery queue, the sender.
"""

from application.ports.audit import AuditEntry, AuditLog, IssueLog, ReconciliationIssue
from application.ports.callbacks import (
    CallbackInbox,
    CallbackVerifier,
    CallbackVerifiers,
    GatewayCallback,
    InboxState,
    SettlementBacklog,
)
from application.ports.clock import Clock, IdGenerator
from application.ports.gateways import (
    GatewayAvailability,
    GatewayCapabilities,
    GatewayResult,
    GatewayRuntime,
    GatewayStatus,
    GatewayTelemetry,
    GatewayUnreachable,
    PaymentInstruction,
    PaymentProvider,
    ProviderRegistry,
)
from application.ports.idempotency import Claim, IdempotencyStore, KeyClaim, StoredResponse
from application.ports.ledger import Ledger
from application.ports.limits import AdmissionView, CountryLimits, LimitRepository
from application.ports.outbox import EventOutbox, MessagePublisher, OutboxMessage
from application.ports.routing import GatewayInfo, RoutingRepository
from application.ports.sessions import SessionRevocations
from application.ports.transactions import PageCursor, TransactionRepository
from application.ports.unit_of_work import Database, UnitOfWork, UnitOfWorkFactory
from application.ports.users import UserRepository
from application.ports.webhooks import (
    ClaimedEndpoint,
    DeliveryOutcome,
    DeliveryRecord,
    DueDelivery,
    EndpointChanges,
    SendResult,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookQueue,
    WebhookSender,
    WebhookTargets,
)

__all__ = [
    "AdmissionView",
    "AuditEntry",
    "AuditLog",
    "CallbackInbox",
    "CallbackVerifier",
    "CallbackVerifiers",
    "Claim",
    "ClaimedEndpoint",
    "Clock",
    "CountryLimits",
    "Database",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DueDelivery",
    "EndpointChanges",
    "EventOutbox",
    "GatewayAvailability",
    "GatewayCallback",
    "GatewayCapabilities",
    "GatewayInfo",
    "GatewayResult",
    "GatewayRuntime",
    "GatewayStatus",
    "GatewayTelemetry",
    "GatewayUnreachable",
    "IdGenerator",
    "IdempotencyStore",
    "InboxState",
    "IssueLog",
    "KeyClaim",
    "Ledger",
    "LimitRepository",
    "MessagePublisher",
    "OutboxMessage",
    "PageCursor",
    "PaymentInstruction",
    "PaymentProvider",
    "ProviderRegistry",
    "ReconciliationIssue",
    "RoutingRepository",
    "SendResult",
    "SessionRevocations",
    "SettlementBacklog",
    "StoredResponse",
    "TransactionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "WebhookEndpoint",
    "WebhookEndpoints",
    "WebhookQueue",
    "WebhookSender",
    "WebhookTargets",
]
