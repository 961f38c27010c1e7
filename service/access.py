"""Who may write: the one dependency every write route (verdicts, the Label Studio webhook, the
review page's posts) depends on: the API keys' write scope (service/auth.py). With no keys
configured every route is open; with keys, a write route needs a write key (401 / 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hardneg.service.auth import check_write

__all__ = ["WriteAccess", "require_write"]


require_write = check_write  # raises Unauthorized / Forbidden (service/errors.py: 401 / 403)
WriteAccess = Annotated[None, Depends(check_write)]
