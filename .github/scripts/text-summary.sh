#!/usr/bin/env bash
# Print a text file (a Terraform plan, a command's log) as Markdown for a job summary: a heading,
# the first line matching HEADLINE if given, then the whole text folded away.
#
# Usage: text-summary.sh TITLE FILE [HEADLINE]   (HEADLINE is an extended regular expression)
set -euo pipefail

title=${1:?usage: text-summary.sh TITLE FILE [HEADLINE]}
file=${2:?usage: text-summary.sh TITLE FILE [HEADLINE]}
headline=${3:-}
# A job summary holds at most 1 MiB; text that long is read in the job log anyway.
limit=${SUMMARY_TEXT_LIMIT:-60000}

printf '### %s\n\n' "$title"
if [ -n "$headline" ]; then
    line=$(grep -m1 -E -e "$headline" "$file" || true)
    printf '%s\n\n' "${line:-(no summary line; see the details)}"
fi
printf '<details><summary>Details</summary>\n\n<pre>\n'
# Plans and logs may contain <, > and &, which <pre> would read as HTML.
head -c "$limit" "$file" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'
if [ "$(wc -c <"$file")" -gt "$limit" ]; then
    printf '\n[... cut at %d bytes: the whole text is in the job log]\n' "$limit"
fi
printf '</pre>\n</details>\n'
