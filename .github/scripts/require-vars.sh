#!/usr/bin/env bash
# Fail with one clear message per missing repository variable, instead of an AWS error later.
#
# Usage: require-vars.sh NAME...   (each NAME is an environment variable the step maps from vars.NAME)
set -euo pipefail

missing=0
for name in "$@"; do
    if [ -z "${!name:-}" ]; then
        printf '::error title=Repository variable %s is not set::Set it under Settings > Secrets and variables > Actions > Variables (see docs/setup.md, step 3).\n' "$name"
        missing=1
    fi
done
exit "$missing"
