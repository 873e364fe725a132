"""Walking a keyset-paged list page as a merchant does: following its "Next" links to the end.

Each page's rows come from ``response.context["page"]`` (a ``marketsync.keyset.KeysetPage``); the links are
the ones the page renders (``templates/keyset_pager.html``), so the pager and its query string are walked too.
"""

from __future__ import annotations

import html
import re

from django.db import connection as db
from django.test.utils import CaptureQueriesContext

NEXT = re.compile(r'<a href="\?([^"]*)" rel="next">')
PREV = re.compile(r'<a href="\?([^"]*)" rel="prev">')


def walk(client, url: str, query: dict | None = None, *, page: str = "page") -> tuple[list, list[int]]:
    """(every row seen, page after page; the number of queries of each page). ``page`` names the KeysetPage in
    the template context. Fails on a page that pages by OFFSET or counts, or on a status other than 200."""
    rows, queries = [], []
    target = url + ("?" + "&".join(f"{k}={v}" for k, v in (query or {}).items()) if query else "")
    client.get(target)  # the navigation's stock counts are cached for a while: warm them so every page is measured alike
    while target:
        with CaptureQueriesContext(db) as captured:
            response = client.get(target)
        assert response.status_code == 200, (target, response.status_code)
        sql = " ".join(q["sql"].upper() for q in captured.captured_queries)
        assert " OFFSET " not in sql and "COUNT(" not in sql, sql
        rows += list(response.context[page].rows)
        queries.append(len(captured.captured_queries))
        found = NEXT.search(response.content.decode())
        target = f"{url}?{html.unescape(found.group(1))}" if found else ""
    return rows, queries


def previous_link(response) -> str:
    """The query string of a page's "Previous" link ('' when it has none)."""
    found = PREV.search(response.content.decode())
    return html.unescape(found.group(1)) if found else ""


# Cursors that are not ours, and the page numbers of the lists before they paged by keyset.
JUNK_CURSORS = [{"after": "junk"}, {"before": "e30"}, {"after": "A" * 600}, {"before": "%%%"}, {"page": "3"}, {"page": "x"}]


def shows_the_top(client, url: str, query: dict, *, page: str = "page") -> bool:
    """Whether ``url`` with ``query`` answers 200 with the rows of the top of the list."""
    top = client.get(url).context[page].rows
    response = client.get(url, query)
    return response.status_code == 200 and response.context[page].rows == top
