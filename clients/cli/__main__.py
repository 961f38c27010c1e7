"""``python -m hardneg.clients.cli`` runs the command line."""

from __future__ import annotations

from hardneg.clients.cli.app import main

main()
