#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine of this kind (Debian, Python 3.11, root).
# Idempotent: run by `make up` and `make test` every time; quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv" >&2
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
python3 -m uv sync --frozen --quiet

# PostgreSQL: a server on 127.0.0.1:5432 or DATABASE_URL, else Debian's binaries for a private cluster.
if [ -z "${DATABASE_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "setup: installing PostgreSQL (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi

# The gateway of the local stack (nginx) and the browser of the web client's tests (Debian's chromium,
# driven by Playwright with its executable path: never `playwright install`).
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} (Debian packages)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
