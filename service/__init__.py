"""The hardneg service: everything between a request and its answer.

- ``app`` (FastAPI app and lifespan), ``routes`` / ``routes_fp`` (thin HTTP routes),
  ``errors`` (the one error body; where exceptions become HTTP statuses).
- ``pipeline`` (the one orchestrator: cache -> miners -> guard -> filter -> rank -> cache),
  ``rank`` (merge, guard, similarity filter, ranking), ``notes`` (per-miner statuses and notes),
  ``local`` (the in-process backend the CLI and batch jobs use).
- ``cache`` (Redis or in-process LRU, single-flight), ``metrics`` (Prometheus),
  ``settings`` (every setting, composed from the miners' sections), ``similarity/`` (embedders,
  FAISS index, similarity filter).
"""
