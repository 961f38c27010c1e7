#!/usr/bin/env bash
# Opt-in: hardneg against a REAL Label Studio server (minutes). Installs Label Studio into its own
# venv if needed, runs the `labelstudio`-marked test, and saves the exchanged payloads as the
# fixtures CI replays (tests/service/labelstudio/recorded/exchanges.json).
#   bash deploy/labelstudio/run_real.sh [LABEL_STUDIO_VENV]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${1:-${HARDNEG_TEST_LS_VENV:-/work/.tools/label-studio}}"
bash deploy/labelstudio/install.sh "$venv"
export HARDNEG_TEST_LS_VENV="$venv"
export HARDNEG_TEST_LS_RECORD="${HARDNEG_TEST_LS_RECORD:-$PWD/tests/service/labelstudio/recorded/exchanges.json}"
python="${PYTHON:-.venv/bin/python}"
"$python" -m pytest -q -s -m labelstudio tests/service/labelstudio "${@:2}"
