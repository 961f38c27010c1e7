"""The ``hardneg`` command line: serve, mine, index build, batch, doctor, fp.

Not part of the light client: it needs typer and rich (the ``cli`` extra, included in
``service``). ``hardneg.clients`` itself never imports this package.
"""

from __future__ import annotations

from hardneg.clients.cli.app import app, main

__all__ = ["app", "main"]
