"""The navigation's counts of stock problems (negative available, drift, unmatched order items), for every page."""

from __future__ import annotations

from django.core.cache import cache
from django.utils.functional import SimpleLazyObject

from inventory.selectors import StockProblemCounts, stock_problem_counts

COUNTS_SECONDS = 30  # read at most twice a minute per organization, whatever the traffic


def _key(organization) -> str:
    return f"stock-problems:{organization.pk}"


def stock_problems_refresh(*, organization) -> StockProblemCounts:
    """Count now and keep it for the navigation (the stock list shows live counts)."""
    counts = stock_problem_counts(organization=organization)
    cache.set(_key(organization), counts, COUNTS_SECONDS)
    return counts


def stock_problems(request):
    organization = getattr(request, "organization", None)
    user = getattr(request, "user", None)
    if not organization or user is None or not user.is_authenticated:
        return {}

    def counts():
        counts = cache.get(_key(organization))
        return counts if counts is not None else stock_problems_refresh(organization=organization)

    return {"stock_problems": SimpleLazyObject(counts)}
