#!/bin/sh
# Serve the ontology snapshot without containers (a host with `pip install 'hardneg[service]'`):
#   deploy/oxigraph/serve.sh            then  HARDNEG_SPARQL_URL=http://127.0.0.1:7878/query
# OXIGRAPH_STORE  where the database lives (default /var/lib/hardneg/oxigraph/db)
# OXIGRAPH_BIND   address to listen on (default 127.0.0.1:7878)
# SNAPSHOT        another snapshot file (default: the one shipped in the package)
set -eu
STORE="${OXIGRAPH_STORE:-/var/lib/hardneg/oxigraph/db}"
BIND="${OXIGRAPH_BIND:-127.0.0.1:7878}"
if [ -n "${SNAPSHOT:-}" ]; then
  python -m hardneg.miners.ontology.snapshot load-store "$STORE" --if-changed --snapshot "$SNAPSHOT"
else
  python -m hardneg.miners.ontology.snapshot load-store "$STORE" --if-changed
fi
exec oxigraph serve-read-only --location "$STORE" --bind "$BIND" --timeout-s 30
