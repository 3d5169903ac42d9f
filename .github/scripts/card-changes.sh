#!/usr/bin/env bash
# Print, as Markdown for a job summary, the cards that HEAD adds, changes or removes compared with BASE.
#
# Usage: card-changes.sh [--ids] BASE [HEAD]
# A pull request's merge commit has the base branch as its first parent, so `HEAD^1 HEAD`
# compares the pull request with the base branch without naming any branch.
# --ids prints the ids of the added and changed cards instead, one a line (for their print proofs).
set -euo pipefail

ids_only=false
if [ "${1:-}" = --ids ]; then
    ids_only=true
    shift
fi
base=${1:?usage: card-changes.sh [--ids] BASE [HEAD]}
head=${2:-HEAD}
added=()
changed=()
removed=()

# A file, not a process substitution, so that a failing git diff fails the script.
diff=$(mktemp)
trap 'rm -f "$diff"' EXIT
git diff -z --name-status --no-renames "$base" "$head" -- contacts/ >"$diff"

# -z keeps odd file names intact; contact files are contacts/<id>.yaml (or .yml), never nested.
while IFS= read -r -d '' status && IFS= read -r -d '' path; do
    case $path in
        contacts/*/*) continue ;;
        contacts/*.yaml | contacts/*.yml) ;;
        *) continue ;;
    esac
    id=${path#contacts/}
    id=${id%.*}
    id=${id//[^A-Za-z0-9._-]/?} # the name goes into Markdown; a valid card id is never altered
    case $status in
        A) added+=("$id") ;;
        D) removed+=("$id") ;;
        *) changed+=("$id") ;;
    esac
done <"$diff"

if $ids_only; then
    for id in "${added[@]}" "${changed[@]}"; do
        case $id in *[!a-z0-9-]*) ;; *) printf '%s\n' "$id" ;; esac # only what can be a card id
    done
    exit 0
fi

list() {
    local label=$1
    shift
    [ $# -gt 0 ] || return 0
    printf '**%s (%d):**\n\n' "$label" $#
    printf -- '- `%s`\n' "$@"
    printf '\n'
}

printf '### Cards in this pull request\n\n'
total=$((${#added[@]} + ${#changed[@]} + ${#removed[@]}))
if [ "$total" -eq 0 ]; then
    printf 'This pull request adds, changes and removes no cards.\n'
    exit 0
fi
printf '%d added, %d changed, %d removed, compared with the base branch.\n\n' \
    "${#added[@]}" "${#changed[@]}" "${#removed[@]}"
list Added "${added[@]}"
list Changed "${changed[@]}"
list Removed "${removed[@]}"
if [ "${#removed[@]}" -gt 0 ]; then
    printf '> [!WARNING]\n> Removed cards stop working: printed QR codes and NFC tags that point at them will show "not found".\n'
fi
