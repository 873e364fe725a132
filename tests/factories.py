"""Small builders for rows the tests need. Credentials are generated at test time."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model

from connections.models import Connection, EntitySync, Membership, Organization
from marketsync.marketplaces import CREDENTIAL_FIELDS, SUPPORTED_ENTITIES, Marketplace


def make_organization(slug: str = "acme", name: str | None = None) -> Organization:
    return Organization.objects.create(slug=slug, name=name or slug.title())


def make_user(username: str, organization: Organization | None = None, role: str = "owner", password: str = "pw"):
    user = get_user_model().objects.create_user(username=username, password=password)
    if organization is not None:
        Membership.objects.create(user=user, organization=organization, role=role)
    return user


def make_connection(organization: Organization, marketplace: str = "refurbed", **fields) -> Connection:
    credentials = fields.pop("credentials", None) or {
        name: f"test-{secrets.token_hex(12)}" for name in CREDENTIAL_FIELDS[Marketplace(marketplace)]
    }
    connection = Connection(organization=organization, marketplace=marketplace, **fields)
    connection.set_credentials(credentials)
    connection.save()
    EntitySync.objects.bulk_create(
        EntitySync(connection=connection, entity=entity) for entity in SUPPORTED_ENTITIES[Marketplace(marketplace)]
    )
    return connection
