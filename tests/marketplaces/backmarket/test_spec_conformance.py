"""Every simulator endpoint's responses validate against Back Market's own OpenAPI document.

The document lives outside the project (``../shared/marketplaces/backmarket-openapi.yml``);
the test skips when it is absent. Addresses are sent in snake_case as real responses
are: the spec's camelCase Address declares no required field and allows other keys,
so snake_case addresses validate as they are.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings
from openapi_schema_validator import OAS30Validator

from marketsync.simulator.backmarket import minimal_pdf
from marketsync.simulator.core import simulator_token
from tests.marketplaces.backmarket.helpers import SEED

SPEC = Path(settings.BASE_DIR).parent / "shared" / "marketplaces" / "backmarket-openapi.yml"
pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"{SPEC} is not here (it is in CI)")


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC.read_text())


def check(path: str, method: str, response: httpx.Response) -> None:
    operation = spec()["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]
    if "$ref" in declared:
        declared = spec()["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
    content = declared.get("content", {}).get("application/json")
    if content is None:
        return  # no declared body (orders' errors, invoice 200): nothing to hold it to
    schema = {"components": spec()["components"], "allOf": [content["schema"]]}
    errors = sorted(OAS30Validator(schema).iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {path} {response.status_code}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )


@pytest.fixture
def api(sim):
    return httpx.Client(
        transport=httpx.WSGITransport(app=sim),
        base_url="http://sim/backmarket",
        headers={
            "Authorization": f"Basic {simulator_token('backmarket', SEED)}",
            "User-Agent": "BM-Acme-marketsync;ops@acme.example",
            "Accept-Language": "fr-fr",
        },
    )


def all_pages(api, url, params=None):
    responses = [api.get(url, params={**(params or {}), "page-size": 50})]
    while responses[-1].json()["next"]:
        responses.append(api.get(responses[-1].json()["next"]))
    return responses


def test_order_endpoints_conform(api, bm):
    for response in all_pages(api, "/ws/orders") + all_pages(api, "/ws/orders", {"state": 0}):
        assert response.status_code == 200
        check("/ws/orders", "get", response)
    order = next(o for o in bm.orders.values() if o["state"] == 1 and len(o["lines"]) == 1)
    line = bm.lines[order["lines"][0]]
    check("/ws/orders/{order_id}", "get", api.get(f"/ws/orders/{order['order_id']}"))
    accepted = api.post(f"/ws/orders/{order['order_id']}", json={"order_id": order["order_id"], "new_state": 2, "sku": line["listing"]})
    assert accepted.status_code == 200
    check("/ws/orders/{order_id}", "post", accepted)
    patched = api.patch(f"/ws/orderlines/{line['id']}", json={"serial_number": "SN-1"})
    assert patched.status_code == 200
    check("/ws/orderlines/{orderline_id}", "patch", patched)
    shipped = api.post(f"/ws/orders/{order['order_id']}", json={"order_id": order["order_id"], "new_state": 3, "tracking_number": "T"})
    assert shipped.status_code == 200
    check("/ws/orders/{order_id}", "post", shipped)
    invoice = api.post(f"/ws/orders/{order['order_id']}/invoice", files={"invoice": ("i.pdf", minimal_pdf("i"), "application/pdf")})
    assert invoice.status_code == 200
    assert api.get("/ws/orders/1").status_code == 404


def test_listing_and_task_endpoints_conform(api, bm):
    for response in all_pages(api, "/ws/listings") + all_pages(api, "/ws/listings", {"publication_state": 3}):
        check("/ws/listings", "get", response)
    listing = bm.listings[1]
    check("/ws/listings/{listingId}", "get", api.get(f"/ws/listings/{listing['id']}"))
    check("/ws/listings/detail", "get", api.get("/ws/listings/detail", params={"sku": listing["sku"]}))
    check("/ws/listings/{listingId}", "get", api.get("/ws/listings/00000000-0000-4000-8000-000000000000"))
    updated = api.post(f"/ws/listings/{listing['id']}", json={"price": "999.00", "comment": "ok"})
    assert updated.status_code == 200
    check("/ws/listings/{listingId}", "post", updated)
    refused = api.post(f"/ws/listings/{listing['id']}", json={"price": "abc"})
    assert refused.status_code == 400
    check("/ws/listings/{listingId}", "post", refused)
    bulk = api.post("/ws/listings", json={"catalog": f"sku,quantity\n{listing['sku']},3\nNEW-1,2\n", "quotechar": '"',
                                          "delimiter": ",", "encoding": "utf-8"})
    check("/ws/listings", "post", bulk)
    missing = api.post("/ws/listings", json={"quotechar": '"'})
    assert missing.status_code == 400
    check("/ws/listings", "post", missing)
    task_id = bulk.json()["bodymessage"]
    for _ in range(3):
        check("/ws/tasks/{taskId}", "get", api.get(f"/ws/tasks/{task_id}"))
    bm.control("task_outcome", {"outcome": "failure"})
    failing = api.post("/ws/listings", json={"catalog": "sku\nA\n", "quotechar": '"', "delimiter": ",", "encoding": "utf-8"})
    for _ in range(2):
        check("/ws/tasks/{taskId}", "get", api.get(f"/ws/tasks/{failing.json()['bodymessage']}"))
    check("/ws/tasks/{taskId}", "get", api.get("/ws/tasks/1"))
    unauthorized = api.get("/ws/listings", headers={"Authorization": "Basic wrong"})
    assert unauthorized.status_code == 401
    check("/ws/listings", "get", unauthorized)


def test_backship_endpoints_conform(api, bm):
    for kind in ("deliveries", "returns"):
        pages = all_pages(api, f"/ws/shipping/v1/{kind}")
        for response in pages:
            check(f"/ws/shipping/v1/{kind}", "get", response)
        first = pages[0].json()["results"][0]
        check(f"/ws/shipping/v1/{kind}/{{id}}", "get", api.get(f"/ws/shipping/v1/{kind}/{first['shipmentId']}"))
    invalid = api.get("/ws/shipping/v1/deliveries", params={"order_id": "abc"})
    assert invalid.status_code == 422
    check("/ws/shipping/v1/deliveries", "get", invalid)
