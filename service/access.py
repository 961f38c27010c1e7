"""Who may write: the one dependency every write route (verdicts, the Label Studio webhook, the
review page's posts) depends on.

The API keys with read/write scopes belong to the production work (issue 13). Until that check
lands, write routes are open like every other route; point :func:`require_write` at the key check
and every write route follows, nothing else changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

__all__ = ["WriteAccess", "require_write"]


async def require_write(request: Request) -> None:
    """Raise (401/403 through service/errors.py) when the caller may not write; today: open."""
    return None


WriteAccess = Annotated[None, Depends(require_write)]
