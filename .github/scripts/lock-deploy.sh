#!/usr/bin/env bash
# Regenerate requirements/deploy.lock, which the deploy workflow installs with --require-hashes:
# cardsite's runtime dependencies and its build backend (setuptools), each pinned with the hashes
# of every file the package index has for that release, so one lock serves Python 3.11 and 3.12.
# Run it after changing [project] dependencies in pyproject.toml (tests/test_deploy_lock.py tells
# you when), with the Python the workflow uses: PYTHON=python3.11 bash .github/scripts/lock-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
    echo "lock-deploy.sh: resolve with Python 3.11, as deploy.yml installs (PYTHON=python3.11)" >&2
    exit 1
}
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$python" -m venv "$tools"
# Local pip settings (extra indexes, find-links, a wheel cache) must not change what is locked.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
"$tools/bin/pip" install -q "pip-tools>=7.4"
CUSTOM_COMPILE_COMMAND="bash .github/scripts/lock-deploy.sh" "$tools/bin/pip-compile" \
    --quiet --generate-hashes --allow-unsafe --strip-extras --build-deps-for=wheel \
    --no-emit-index-url --no-emit-find-links --output-file=requirements/deploy.lock pyproject.toml
