import secrets

import pytest

from tests.factories import make_organization


@pytest.fixture
def secret():
    """A credential value to hunt for in pages, logs and columns (long enough to be unmistakable)."""
    return f"sk-live-{secrets.token_hex(16)}"


@pytest.fixture
def org(db):
    return make_organization("acme", "Acme Parts")
