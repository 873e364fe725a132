"""The simulator's request and response bodies checked against Refurbed's own OpenAPI document.

The document lives outside the project (``../shared/marketplaces/refurbed-openapi.json``);
the test is skipped when it is absent. Objects are closed (``additionalProperties: false``)
so a field name the spec does not know fails, and enums are checked by name.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import jsonschema
import pytest
from django.conf import settings

from marketsync.marketplaces.refurbed.client import RefurbedClient
from marketsync.sync.errors import MarketplaceError
from tests.marketplaces.refurbed.sim import make_sim, token

SPEC_PATH = Path(settings.BASE_DIR).parent / "shared" / "marketplaces" / "refurbed-openapi.json"


@pytest.fixture(scope="module")
def spec():
    if not SPEC_PATH.exists():
        pytest.skip(f"Refurbed's OpenAPI document is not at {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text())


def closed(definitions: dict) -> dict:
    definitions = copy.deepcopy(definitions)
    for schema in definitions.values():
        if schema.get("type") == "object" and schema.get("properties"):
            schema["additionalProperties"] = False
    return definitions


def validator(spec, ref: str):
    schema = {"definitions": closed(spec["definitions"]), "$ref": ref}
    return jsonschema.Draft4Validator(schema)


class Capture(httpx.BaseTransport):
    def __init__(self, app) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.exchanges: list[tuple[str, object, int, object]] = []

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request.url.path.removeprefix("/refurbed"), json.loads(request.content or b"{}"),
                               response.status_code, json.loads(response.content)))
        return response


def exercise(client: RefurbedClient, app) -> None:
    sim = app["refurbed"]
    start = sim.start.isoformat().replace("+00:00", "Z")
    rows, _ = client.list_orders(filter={"released_at": {"ge": start}}, limit=10)
    client.list_orders(filter={"id": {"any_of": [str(i) for i in sim.order_ids[:5]]}, "state": {"any_of": ["NEW", "SHIPPED"]}})
    client.list_orders(starting_after=str(sim.order_ids[3]), limit=3)
    order = client.get_order(str(sim.order_ids[-1]))
    client.list_order_items(order["id"])
    item = order["items"][0]
    client.get_order_item(item["id"])
    if item["state"] == "NEW":
        client.update_order_item_state(item["id"], "ACCEPTED")
    shipped = next(i for i, s in enumerate(sim.item_states) if s[0] == "ACCEPTED")
    client.update_order_item_state(str(sim.order_ids[shipped] * 10), "SHIPPED",
                                   parcel_tracking_url="https://track.example.com/x",
                                   item_identifiers=[{"identifier_type": "IMEI", "value": "356938035643809"}])
    offers, _ = client.list_offers(limit=5)
    client.get_offer(id=offers[0]["id"])
    client.get_offer(sku=offers[1]["sku"])
    market_offers, _ = client.list_market_offers(limit=5)
    client.list_market_offers(starting_after={"offer_id": {"id": market_offers[-1]["id"]["offer_id"]["id"]},
                                              "market_code": market_offers[-1]["id"]["market_code"]}, limit=5)
    client.get_market_offer(offer_id=market_offers[0]["id"]["offer_id"]["id"], market_code=market_offers[0]["id"]["market_code"])
    client.list_markets()
    client.get_market("AT")
    client.list_currencies()
    client.get_currency("EUR")
    client.get_instance("31000")
    client.list_shipping_profiles()
    client.get_catalog_templates(category_type="ELECTRONICS", lang_code="EN")
    for call in (lambda: client.get_order("1"), lambda: client.list_orders(limit=101),
                 lambda: client.update_order_item_state(str(sim.order_ids[shipped] * 10), "NEW")):
        with pytest.raises(MarketplaceError):
            call()


def test_simulator_bodies_match_refurbeds_openapi_document(spec):
    app = make_sim(orders=200)
    capture = Capture(app)
    client = RefurbedClient(http=httpx.Client(transport=capture), token=token(), base_url="http://sim/refurbed",
                            sleep=lambda s: None)
    exercise(client, app)
    assert len(capture.exchanges) >= 20
    problems = []
    for path, request_body, status, response_body in capture.exchanges:
        operation = spec["paths"][path]["post"]
        request_ref = next(p["schema"]["$ref"] for p in operation["parameters"] if p["in"] == "body")
        response_ref = operation["responses"]["200"]["schema"]["$ref"] if status == 200 else "#/definitions/Status"
        for what, ref, body in (("request", request_ref, request_body), ("response", response_ref, response_body)):
            for error in validator(spec, ref).iter_errors(body):
                problems.append(f"{path} {what} {status}: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
    assert not problems, "\n".join(problems[:30])
    assert {exchange[2] for exchange in capture.exchanges} >= {200, 400, 404}


def test_a_misnamed_field_would_fail_the_check(spec):
    # Guards the guard: the closed schemas reject a lowerCamel name.
    errors = list(validator(spec, "#/definitions/Order").iter_errors({"id": "1", "releasedAt": "2026-01-01T00:00:00Z"}))
    assert errors
