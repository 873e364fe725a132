"""Credentials at rest: Fernet under a MultiFernet of FIELD_ENCRYPTION_KEYS (newest first)."""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def cipher() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class CredentialsUnreadable(Exception):
    """The stored credentials were encrypted under a key that is no longer configured."""


def encrypt_credentials(credentials: dict[str, str]) -> str:
    return cipher().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(cipher().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "The stored credentials cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."
        ) from exc


def reencrypt(token: str) -> str:
    """The same plaintext under the newest key."""
    return cipher().rotate(token.encode()).decode() if token else token
