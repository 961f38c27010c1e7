"""Label Studio: an ML backend router (``router``: predict, setup, health, webhook), label configs
and tasks (``config``), annotations turned into verdicts (``annotations``); see
docs/annotation.md. Nothing is imported here, so the CLI can read configs without FastAPI."""
