#!/usr/bin/env bash
# Open or update the one directory-sync pull request: commit what `build.py sync` changed onto the
# fixed branch cardsite-sync (made anew from the checked-out main each time), push it, and set the
# summary as the pull request's body. With sync.auto_merge: true in site.yaml, a pull request that
# touches only directory-owned fields is set to merge once its required checks pass.
# Usage: sync-pr.sh SUMMARY.md   (GH_TOKEN in the environment)
set -euo pipefail
summary="$1"
branch="${SYNC_BRANCH:-cardsite-sync}"
paths=(contacts)
[ -e sync-state.json ] && paths+=(sync-state.json)

if [ -z "$(git status --porcelain -- "${paths[@]}")" ]; then
    echo "The directory and the cards agree: nothing to propose."
    exit 0
fi
base="$(git rev-parse --abbrev-ref HEAD)"
gh auth setup-git
git config user.name "cardsite-sync"
git config user.email "cardsite-sync@users.noreply.github.com"
git switch -C "$branch"
git add -- "${paths[@]}"
git commit -q -m "Directory sync" -m "$(head -c 60000 "$summary")"
git push --force origin "$branch"

number="$(gh pr list --head "$branch" --state open --json number --jq '.[0].number // empty')"
if [ -n "$number" ]; then
    gh pr edit "$number" --body-file "$summary"
else
    gh pr create --head "$branch" --base "$base" --title "Directory sync" --body-file "$summary"
fi

auto="$(python -c 'import yaml; print(((yaml.safe_load(open("site.yaml")) or {}).get("sync") or {}).get("auto_merge") is True)')"
if [ "$auto" = "True" ] && grep -qx 'Touches only directory-owned fields: yes' "$summary"; then
    gh pr merge "$branch" --auto --squash
fi
