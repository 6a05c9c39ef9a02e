# Shared by scripts/dev and scripts/test: a virtualenv in .venv with the pinned requirements
# (installed with uv when it is on the PATH: several times faster; pip otherwise).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/.venv}"
REQUIREMENTS="${REQUIREMENTS:-requirements-dev.txt}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when the requirements changed.
stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt "$REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if command -v uv >/dev/null 2>&1; then
    echo "==> installing $REQUIREMENTS (uv)"
    uv pip install -q --python "$VENV/bin/python" -r "$REQUIREMENTS"
  else
    echo "==> installing $REQUIREMENTS (pip; install uv for a faster first run)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS"
  fi
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
