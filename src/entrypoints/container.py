"""The composition root: the only place that knows every concrete adapter.

Resources (database pool, HTTP client) start and stop with the app lifespan.
Use cases on the hot path (deposit, withdrawal, callbacks) hold no state of
their own, so they are built once (Singleton) instead of per request; the
rest are factories. Tests override providers with
in-memory fakes (``container.uow_factory.override(...)``).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.gateways.http_client import http_client_resource
from adapters.postgres.database import PostgresDatabase
from adapters.postgres.idempotency import PostgresIdempotencyStore
from adapters.postgres.key_rotation import PostgresAuditLogs, PostgresCiphertexts
from adapters.postgres.pool import pool_resource
from adapters.postgres.relay import OutboxRelay
from adapters.postgres.replay_source import PostgresRecordedTraffic
from adapters.postgres.routing_changes import RoutingChangeListener
from adapters.postgres.routing_stats import RoutingStatsRefresher
from adapters.postgres.session_revocations import PostgresSessionRevocations
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.postgres.verification.invariants import PostgresInvariants
from adapters.postgres.webhooks_endpoints import PostgresWebhookEndpoints
from adapters.postgres.webhooks_queue import PostgresWebhookQueue
from adapters.postgres.webhooks_upkeep import PostgresWebhookUpkeep
from adapters.routing_metrics import watched_routing_stats
from adapters.system import SystemClock, UuidV7Generator
from adapters.webhooks.sender import HttpWebhookSender, webhook_client_resource
from adapters.webhooks.targets import ResolvingWebhookTargets
from application.apply_callback import ApplyCallbacks, RetryPolicy
from application.closed_loop import ClosedLoopPayout
from application.country_limits import GetCountryLimits, SetCountryLimits
from application.country_route_order import GetCountryRouteOrder
from application.country_routing import GetCountryGateways, SetCountryGateways
from application.country_routing_document import GetCountryRouting, SetCountryRouting
from application.deposit import Deposit
from application.dispatch import GatewayDispatcher
from application.encryption_keys.retire import RetireKey
from application.encryption_keys.rotate import RotateKeys
from application.encryption_keys.status import GetKeyStatus
from application.gateway_admin import ListGateways, SetGatewayStatus
from application.get_balances import GetBalances
from application.get_transaction import GetTransaction
from application.list_issues import ListIssues
from application.list_transactions import ListTransactions
from application.payment_steps import PaymentSteps
from application.receive_callback import ReceiveCallback
from application.reconcile import Reconcile
from application.refund import Refund
from application.retry_callbacks import RetryCallbacks
from application.reversal_window import SetReversalWindow
from application.route_cache import RouteCache
from application.routing_replay import ReplayRouting
from application.settle import SettleTransaction
from application.settlement_backlog import GetSettlementBacklog
from application.upsert_user import UpsertUser
from application.verification.check_invariants import CheckInvariants
from application.webhooks.create_endpoint import CreateWebhookEndpoint
from application.webhooks.delete_endpoint import DeleteWebhookEndpoint
from application.webhooks.list_deliveries import ListWebhookDeliveries
from application.webhooks.list_endpoints import GetWebhookEndpoint, ListWebhookEndpoints
from application.webhooks.redeliver import RedeliverWebhook
from application.webhooks.roll_secret import RollWebhookSecret
from application.webhooks.update_endpoint import UpdateWebhookEndpoint
from application.withdraw import Withdraw
from entrypoints.gateways import (
    build_capabilities,
    build_health_checker,
    build_monitors,
    build_registry,
)
from entrypoints.key_config import KEY_REFRESH_S, build_keyring
from entrypoints.messaging import build_consumer, build_verifiers, publisher_resource
from entrypoints.readiness import Readiness
from entrypoints.settings import Settings
from entrypoints.verification import build_event_stream, build_gateway_ledgers
from entrypoints.webhook_worker import build_deliverer


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    db_pool = providers.Resource(
        pool_resource,
        url=settings.provided.database_url,
        min_size=settings.provided.db_pool_min,
        max_size=settings.provided.db_pool_max,
        timeout_s=settings.provided.db_pool_timeout_s,
    )
    http_client = providers.Resource(
        http_client_resource,
        connect_timeout_s=settings.provided.gateway_connect_timeout_s,
        read_timeout_s=settings.provided.gateway_read_timeout_s,
    )

    keyring = providers.Singleton(build_keyring, settings)
    uow_factory = providers.Singleton(unit_of_work_factory, db_pool, keyring)
    database = providers.Singleton(PostgresDatabase, db_pool)
    monitors = providers.Singleton(build_monitors, settings)
    gateways = providers.Singleton(build_registry, settings, http_client, monitors)
    health_checker = providers.Singleton(build_health_checker, settings, http_client, monitors)
    capabilities = providers.Singleton(build_capabilities, settings)
    idempotency_store = providers.Singleton(PostgresIdempotencyStore, db_pool)
    # Dashboard logouts: in the database, so restarts and other replicas honour them.
    session_revocations = providers.Singleton(PostgresSessionRevocations, db_pool)
    route_cache = providers.Singleton(RouteCache, ttl_s=settings.provided.route_cache_ttl_s)
    routing_changes = providers.Singleton(
        RoutingChangeListener,
        database_url=settings.provided.database_url,
        on_change=route_cache.provided.invalidate,
    )
    routing_stats = providers.Singleton(
        watched_routing_stats, window=settings.provided.routing_policy.window
    )
    routing_stats_refresher = providers.Singleton(
        RoutingStatsRefresher,
        database_url=settings.provided.database_url,
        stats=routing_stats,
        window=settings.provided.routing_policy.window,
        interval_s=settings.provided.routing_stats_refresh_s,
    )
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidV7Generator)

    verifiers = providers.Singleton(build_verifiers, settings)
    callback_retry = providers.Singleton(
        RetryPolicy,
        max_attempts=settings.provided.callback_max_attempts,
        base_s=settings.provided.callback_retry_base_s,
    )
    apply_callbacks = providers.Singleton(
        ApplyCallbacks, uow=uow_factory, clock=clock, retry=callback_retry
    )
    retry_callbacks = providers.Singleton(
        RetryCallbacks, uow=uow_factory, apply=apply_callbacks, clock=clock
    )
    settlement_backlog = providers.Singleton(
        GetSettlementBacklog,
        uow=uow_factory,
        threshold_s=settings.provided.settlement_degraded_after_s,
    )
    receive_callback = providers.Singleton(ReceiveCallback, uow=uow_factory, verifiers=verifiers)
    publisher = providers.Resource(publisher_resource, settings, apply_callbacks)
    relay = providers.Singleton(
        OutboxRelay,
        pool=db_pool,
        database_url=settings.provided.database_url,
        publisher=publisher,
        poll_interval_s=settings.provided.relay_poll_s,
    )
    callback_consumer = providers.Singleton(build_consumer, settings, apply_callbacks)
    readiness = providers.Singleton(
        Readiness,
        database=database,
        publisher=publisher,
        kafka_configured=providers.Callable(lambda s: bool(s.kafka_bootstrap_servers), settings),
        settlement=settlement_backlog,
    )

    dispatcher = providers.Singleton(
        GatewayDispatcher, uow=uow_factory, providers=gateways, clock=clock
    )
    payment_steps = providers.Singleton(
        PaymentSteps,
        uow=uow_factory,
        dispatcher=dispatcher,
        availability=monitors,
        clock=clock,
        ids=ids,
        cache=route_cache,
        capabilities=capabilities,
        stats=routing_stats,
        policy=settings.provided.routing_policy,
    )
    deposit = providers.Singleton(Deposit, steps=payment_steps)
    # Closed-loop sources through a family without payouts are skipped.
    closed_loop = providers.Singleton(
        ClosedLoopPayout,
        uow=uow_factory,
        dispatcher=dispatcher,
        clock=clock,
        ids=ids,
        capabilities=capabilities,
    )
    withdraw = providers.Singleton(Withdraw, steps=payment_steps, closed_loop=closed_loop)
    refund = providers.Singleton(Refund, uow=uow_factory, providers=gateways, clock=clock, ids=ids)
    get_country_limits = providers.Factory(GetCountryLimits, uow=uow_factory)
    set_country_limits = providers.Factory(SetCountryLimits, uow=uow_factory, cache=route_cache)
    set_reversal_window = providers.Factory(SetReversalWindow, uow=uow_factory)
    settle = providers.Factory(SettleTransaction, uow=uow_factory, clock=clock)
    reconcile = providers.Factory(
        Reconcile,
        uow=uow_factory,
        providers=gateways,
        clock=clock,
        stuck_after_s=settings.provided.reconcile_after_s,
    )
    list_issues = providers.Factory(ListIssues, uow=uow_factory)
    get_transaction = providers.Singleton(GetTransaction, uow=uow_factory)
    list_transactions = providers.Factory(ListTransactions, uow=uow_factory)
    get_balances = providers.Factory(GetBalances, uow=uow_factory, clock=clock)
    upsert_user = providers.Factory(UpsertUser, uow=uow_factory, cache=route_cache)
    list_gateways = providers.Factory(
        ListGateways, uow=uow_factory, telemetry=monitors, stats=routing_stats
    )
    set_gateway_status = providers.Factory(SetGatewayStatus, uow=uow_factory, cache=route_cache)
    get_country_gateways = providers.Factory(GetCountryGateways, uow=uow_factory)
    get_country_route_order = providers.Factory(
        GetCountryRouteOrder, uow=uow_factory, availability=monitors
    )
    set_country_gateways = providers.Factory(SetCountryGateways, uow=uow_factory, cache=route_cache)
    get_country_routing = providers.Factory(GetCountryRouting, uow=uow_factory)
    set_country_routing = providers.Factory(SetCountryRouting, uow=uow_factory, cache=route_cache)
    replay_routing = providers.Factory(
        ReplayRouting,
        uow=uow_factory,
        traffic=providers.Factory(PostgresRecordedTraffic, db_pool),
        clock=clock,
        policy=settings.provided.routing_policy,
    )

    # `payments check`: the database always; the CLI picks the optional
    # sources (flags, configuration) and passes them to check_invariants.
    invariant_database = providers.Singleton(PostgresInvariants, db_pool)
    gateway_ledgers = providers.Factory(build_gateway_ledgers, settings)
    event_stream = providers.Factory(build_event_stream, settings)
    check_invariants = providers.Factory(CheckInvariants, database=invariant_database)

    # `payments keys`: the CLI passes where the keys are kept (keys=), the
    # keyring to re-encrypt under, re-read as a rotation changes it
    # (ciphertexts__keyring=), and the rotation's progress display.
    key_ciphertexts = providers.Factory(PostgresCiphertexts, pool=db_pool)
    audit_logs = providers.Singleton(PostgresAuditLogs, db_pool)
    rotate_keys = providers.Factory(
        RotateKeys, ciphertexts=key_ciphertexts, audit=audit_logs, refresh_s=KEY_REFRESH_S
    )
    key_status = providers.Factory(GetKeyStatus, ciphertexts=key_ciphertexts)
    retire_key = providers.Factory(RetireKey, ciphertexts=key_ciphertexts)

    # Outgoing webhooks: endpoints (admin API), the delivery queue fanned out
    # by the relay, and the worker that sends it (entrypoints/webhook_worker.py).
    webhook_client = providers.Resource(
        webhook_client_resource, timeout_s=settings.provided.webhook_timeout_s
    )
    webhook_targets = providers.Singleton(
        ResolvingWebhookTargets, allow_private=settings.provided.webhook_allow_private
    )
    webhook_endpoints = providers.Singleton(PostgresWebhookEndpoints, db_pool, keyring)
    webhook_queue = providers.Singleton(PostgresWebhookQueue, db_pool, keyring)
    webhook_sender = providers.Singleton(
        HttpWebhookSender,
        webhook_client,
        webhook_targets,
        total_timeout_s=settings.provided.webhook_timeout_s,
    )
    webhook_upkeep = providers.Singleton(
        PostgresWebhookUpkeep, db_pool, retention_days=settings.provided.webhook_retention_days
    )
    create_webhook_endpoint = providers.Factory(
        CreateWebhookEndpoint,
        endpoints=webhook_endpoints,
        targets=webhook_targets,
        uow=uow_factory,
        clock=clock,
        ids=ids,
    )
    list_webhook_endpoints = providers.Factory(ListWebhookEndpoints, endpoints=webhook_endpoints)
    get_webhook_endpoint = providers.Factory(GetWebhookEndpoint, endpoints=webhook_endpoints)
    update_webhook_endpoint = providers.Factory(
        UpdateWebhookEndpoint,
        endpoints=webhook_endpoints,
        targets=webhook_targets,
        uow=uow_factory,
        clock=clock,
    )
    delete_webhook_endpoint = providers.Factory(
        DeleteWebhookEndpoint, endpoints=webhook_endpoints, uow=uow_factory
    )
    list_webhook_deliveries = providers.Factory(ListWebhookDeliveries, endpoints=webhook_endpoints)
    redeliver_webhook = providers.Factory(
        RedeliverWebhook, endpoints=webhook_endpoints, uow=uow_factory, clock=clock
    )
    roll_webhook_secret = providers.Factory(
        RollWebhookSecret, endpoints=webhook_endpoints, uow=uow_factory, clock=clock
    )
    deliver_webhooks = providers.Singleton(
        build_deliverer, settings, webhook_queue, webhook_sender, clock
    )


def make_container(settings: Settings) -> Container:
    return Container(settings=settings)
