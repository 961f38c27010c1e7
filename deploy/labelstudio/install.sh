#!/usr/bin/env bash
# Install the Label Studio server (and its SDK) into a venv of its own, outside the repository:
# its dependencies (Django and many pins) must not disturb hardneg's environment.
#   bash deploy/labelstudio/install.sh [VENV_DIR]      (default /work/.tools/label-studio)
# Then: VENV_DIR/bin/label-studio start ... (see docs/annotation.md), or the opt-in test
# `bash deploy/labelstudio/run_real.sh`.
set -euo pipefail
venv="${1:-${HARDNEG_LS_VENV:-/work/.tools/label-studio}}"
version="${LABEL_STUDIO_VERSION:-1.23.2}"
if [ -x "$venv/bin/label-studio" ] && "$venv/bin/python" -c "import label_studio_sdk" 2>/dev/null; then
  echo "label-studio already installed in $venv"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/pip" install -q "label-studio==$version" label-studio-sdk 2>&1 | grep -v "^WARNING: Location" || true
[ -x "$venv/bin/label-studio" ] || { echo "label-studio install failed in $venv" >&2; exit 1; }
echo "installed label-studio $version in $venv"
