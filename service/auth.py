"""Optional API keys with two scopes: *read* (mine negatives, list rounds) and *write* (ingest
false positives, verdicts, webhooks: anything that changes stored data). A write key may read.

No keys configured = open, as before. With keys, every ``/v1`` route needs one, sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; a missing or unknown key is 401, a
read key on a write route 403. Keys are compared as SHA-256 digests with
``hmac.compare_digest`` against every configured key, so the time taken does not say how much
of a key matched, nor which key. Probes (``/healthz``, ``/readyz``) and ``/metrics`` stay open.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, SecretStr

from hardneg.miners.settings import SettingsSection
from hardneg.service.errors import Forbidden, Unauthorized

__all__ = ["AuthSettings", "Keys", "check_read", "check_write", "require_read", "require_write"]

Scope = Literal["read", "write"]


class AuthSettings(SettingsSection):
    """API keys (service/auth.py); none set = no authentication."""

    api_keys_read: list[SecretStr] = Field(
        default_factory=list,
        description="Keys that may read (mine negatives, list rounds); JSON list. Setting any key"
        " turns authentication on for every /v1 route.",
    )
    api_keys_write: list[SecretStr] = Field(
        default_factory=list,
        description="Keys that may also write (false positives, verdicts, webhooks); JSON list.",
    )


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class Keys:
    """The configured keys, kept as digests only."""

    def __init__(self, read: list[str], write: list[str]) -> None:
        self._keys = [(_digest(k), "read") for k in read] + [(_digest(k), "write") for k in write]

    @classmethod
    def from_settings(cls, s: AuthSettings) -> Keys:
        return cls(
            [k.get_secret_value() for k in s.api_keys_read],
            [k.get_secret_value() for k in s.api_keys_write],
        )

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def scope_of(self, presented: str) -> Scope | None:
        """The scope of a presented key, or None. Every key is compared (no early exit)."""
        given = _digest(presented)
        found: Scope | None = None
        for digest, scope in self._keys:
            if hmac.compare_digest(given, digest) and found != "write":
                found = scope  # type: ignore[assignment]
        return found


_bearer = HTTPBearer(auto_error=False, description="An API key (when the service has keys).")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, instead.")


def _check(request: Request, need: Scope, bearer: str | None, header: str | None) -> None:
    keys: Keys | None = getattr(request.app.state, "keys", None)
    if keys is None or not keys.enabled:
        return
    presented = bearer or header
    if not presented:
        raise Unauthorized("an API key is required: send Authorization: Bearer <key>")
    scope = keys.scope_of(presented)
    if scope is None:
        raise Unauthorized("unknown API key")
    if need == "write" and scope != "write":
        raise Forbidden("this API key may only read; this route needs a write key")


def _presented(
    bearer: HTTPAuthorizationCredentials | None, header: str | None
) -> tuple[str | None, str | None]:
    return (bearer.credentials if bearer is not None else None), header


async def check_read(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> None:
    _check(request, "read", *_presented(bearer, header))


async def check_write(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> None:
    _check(request, "write", *_presented(bearer, header))


# Use as a router or route dependency: ``dependencies=[require_write]``.
require_read = Depends(check_read)
require_write = Depends(check_write)
