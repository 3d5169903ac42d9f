#!/usr/bin/env bash
# Print a Terraform plan (the text of `terraform show -no-color PLAN`) as Markdown for a job summary.
#
# Usage: plan-summary.sh TITLE PLAN_TEXT_FILE
set -euo pipefail

title=${1:?usage: plan-summary.sh TITLE PLAN_TEXT_FILE}
file=${2:?usage: plan-summary.sh TITLE PLAN_TEXT_FILE}
# A job summary holds at most 1 MiB; a plan that large is read in the job log anyway.
limit=${PLAN_SUMMARY_LIMIT:-60000}

totals=$(grep -m1 -E '^(Plan:|Changes to Outputs:|No changes\.)' "$file" || true)
printf '### %s\n\n%s\n\n' "$title" "${totals:-The plan is below.}"
printf '<details><summary>Full plan</summary>\n\n<pre>\n'
# Plans show resource names and values that may contain <, > and &; <pre> would read them as HTML.
head -c "$limit" "$file" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'
if [ "$(wc -c <"$file")" -gt "$limit" ]; then
    printf '\n[... cut at %d bytes: the whole plan is in the job log]\n' "$limit"
fi
printf '</pre>\n</details>\n'
