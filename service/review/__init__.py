"""The review page (``/review``): judge an item's negatives in a browser, keyboard first."""

from __future__ import annotations

from hardneg.service.review.routes import router

__all__ = ["router"]
