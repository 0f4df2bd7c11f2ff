# Sourced by the scripts in this folder: locate the repository and make sure .venv holds the
# project with the extras a script needs. Needs only python3 (3.10+) with venv and pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

_python3() {
  local candidate
  for candidate in "${PYTHON:-}" python3 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "kairos-sdk needs Python 3.10 or newer as python3 (or set PYTHON=...)" >&2
  return 1
}

# ensure_venv EXTRAS: create .venv if needed and (re)install the project in editable mode with
# EXTRAS (e.g. "all,dev", or "" for the core) whenever pyproject.toml has changed since.
ensure_venv() {
  local extras="$1" spec="$ROOT" stamp
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  if [ ! -x "$PY" ]; then
    echo "creating $VENV" >&2
    "$(_python3)" -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  fi
  stamp="$VENV/.installed-${extras:-core}"
  local want
  want="$(cat "$ROOT/pyproject.toml" | "$PY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing kairos-sdk${extras:+[$extras]} into $VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
    echo "$want" >"$stamp"
  fi
}
