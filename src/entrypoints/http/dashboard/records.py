"""The operator's read-only pages: transactions, balances, reconciliation issues."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from application.get_balances import GetBalances
from application.get_transaction import GetTransaction
from application.list_issues import ListIssues
from application.list_transactions import ListTransactions, ListTransactionsQuery
from domain.errors import NotFound, PaymentError
from entrypoints.http.dashboard import forms
from entrypoints.http.dashboard.forms import BadInput
from entrypoints.http.dashboard.guard import BASE
from entrypoints.http.dashboard.pages import OperatorPages
from entrypoints.http.dashboard.rendering import error_page, page
from entrypoints.http.schemas import balance_out, transaction_detail_out, transaction_out

PAGE_SIZE = 50


class RecordPages(OperatorPages):
    """What happened to payments and wallets, as the ledger and the audit trail hold it."""

    @get("/transactions")
    async def transactions(
        self,
        request: Request[Any, Any, Any],
        list_transactions: NamedDependency[ListTransactions],
        user_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Newest first, filtered by user and status, one page at a time."""
        filters = {"user_id": (user_id or "").strip(), "status": (status or "").strip()}
        items: list[Any] = []
        next_url = None
        error = None
        try:
            query = ListTransactionsQuery(
                user_id=forms.user_id(user_id),
                status=forms.transaction_status(filters["status"]),
                limit=PAGE_SIZE,
                cursor=forms.page_cursor(cursor),
            )
            found = await list_transactions.execute(query)
        except BadInput as exc:
            error = str(exc)
        except PaymentError as exc:
            error = exc.detail
        else:
            items = [transaction_out(tx) for tx in found.items]
            if found.next_cursor:
                shown = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
                next_url = f"{BASE}/transactions?{shown}&cursor={quote(found.next_cursor)}"
        return page(
            request,
            "transactions.html",
            status_code=400 if error else 200,
            error=error,
            items=items,
            filters=filters,
            statuses=forms.STATUSES,
            next_url=next_url,
            first_page=cursor is None,
        )

    @get("/transactions/{transaction_id:str}")
    async def transaction(
        self,
        request: Request[Any, Any, Any],
        transaction_id: FromPath[str],
        get_transaction: NamedDependency[GetTransaction],
    ) -> Template:
        """One transaction: its fields, every gateway attempt and its audit history."""
        try:
            details = await get_transaction.execute(transaction_id[:100])
        except NotFound:
            return error_page(request, 404, f"Transaction {transaction_id[:100]} does not exist.")
        return page(request, "transaction.html", tx=transaction_detail_out(details))

    @get("/balances")
    async def balances(
        self,
        request: Request[Any, Any, Any],
        get_balances: NamedDependency[GetBalances],
        user_id: FromQuery[str | None] = None,
    ) -> Template:
        """A user's available and held balance per currency."""
        rows = None
        error = None
        status_code = 200
        try:
            uid = forms.user_id(user_id)
            if uid is not None:
                rows = [balance_out(b) for b in await get_balances.execute(uid)]
        except BadInput as exc:
            error, status_code = str(exc), 400
        except NotFound as exc:
            error, status_code = exc.detail, 404
        return page(
            request,
            "balances.html",
            status_code=status_code,
            error=error,
            user_id=(user_id or "").strip(),
            rows=rows,
        )

    @get("/issues")
    async def issues(
        self,
        request: Request[Any, Any, Any],
        list_issues: NamedDependency[ListIssues],
        status: FromQuery[str | None] = None,
    ) -> Template:
        """Reconciliation findings: open ones, or all with ``status=all``."""
        show_all = status == "all"
        found = await list_issues.execute(open_only=not show_all, limit=500)
        return page(request, "issues.html", issues=found, show_all=show_all)
