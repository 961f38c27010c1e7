"""Label Studio: an ML backend router (predict, setup, health, webhook), label configs, and
annotations turned into verdicts (see docs/annotation.md)."""

from __future__ import annotations

from hardneg.service.labelstudio.router import router

__all__ = ["router"]
