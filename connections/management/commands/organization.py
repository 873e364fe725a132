"""Ops CLI for organizations: ``organization create SLUG --name NAME [--owner USERNAME]`` and
``organization add-member SLUG USERNAME [--role owner|member]``."""

from __future__ import annotations

from django.core.management.base import CommandError

from connections import services
from connections.management.cli import OpsCommand, organization_or_error
from connections.models import Membership


class Command(OpsCommand):
    help = "Create organizations and give users access to them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="Create an organization.")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--owner", help="Username of an existing user who becomes its owner.")
        member = sub.add_parser("add-member", help="Give an existing user access to an organization.")
        member.add_argument("slug")
        member.add_argument("username")
        member.add_argument("--role", default=Membership.Role.MEMBER, help="owner | member (default)")

    def handle(self, *args, **options):
        try:
            if options["action"] == "create":
                owner = services.user_get_by_username(username=options["owner"]) if options.get("owner") else None
                organization = services.organization_create(slug=options["slug"], name=options["name"], owner=owner)
                suffix = f", owned by {owner.get_username()}" if owner else ""
                self.stdout.write(f"Created organization {organization.slug} ({organization.name}){suffix}.")
            else:
                organization = organization_or_error(options["slug"])
                user = services.user_get_by_username(username=options["username"])
                membership = services.membership_add(organization=organization, user=user, role=options["role"])
                self.stdout.write(f"{user.get_username()} is now {membership.role} of {organization.slug}.")
        except services.LifecycleError as exc:
            raise CommandError(str(exc)) from None
