#!/bin/sh
# Checks that every C file of dtf is formatted as .clang-format says (STYLE.md rule 8).
#
#   scripts/check-format.sh [--fix] [ROOT]
#
# Without --fix it prints a unified diff for each file clang-format would change and exits 1 if
# there is one (0 when all are clean, 77 when clang-format is missing, which CTest counts as a
# skip). With --fix it rewrites those files in place (`make format`). ROOT is the source tree,
# by default the one this script is in. The file set: *.c and *.h under src/ tests/ bench/
# include/ examples/ (dtf has no generated or third-party C in those folders; the generated
# pyrun_source.inc lives in the build tree).
set -u

fix=0
if [ "${1:-}" = "--fix" ]; then
	fix=1
	shift
fi
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

# clang-format-14 is the version the tree is formatted with; another may format differently.
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	for c in clang-format-14 clang-format; do
		if command -v "$c" >/dev/null 2>&1; then
			cf=$c
			break
		fi
	done
fi
if [ -z "$cf" ]; then
	echo "check-format: clang-format not found (scripts/install-deps.sh installs it)" >&2
	exit 77
fi
if [ ! -f .clang-format ]; then
	echo "check-format: no .clang-format in $(pwd)" >&2
	exit 2
fi

dirs=""
for d in src tests bench include examples; do
	[ -d "$d" ] && dirs="$dirs $d"
done
[ -n "$dirs" ] || exit 0

# shellcheck disable=SC2086 # $dirs is a list; dtf's paths have no spaces
files=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)

if [ "$fix" = 1 ]; then
	# One file per call keeps the argument list short; clang-format starts fast.
	for f in $files; do
		"$cf" --style=file -i "$f" || exit 2
	done
	exit 0
fi

bad=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
for f in $files; do
	if ! "$cf" --style=file "$f" >"$tmp"; then
		echo "check-format: $cf failed on $f" >&2
		bad=$((bad + 1))
		continue
	fi
	if ! cmp -s "$f" "$tmp"; then
		diff -u --label "a/$f" --label "b/$f" "$f" "$tmp"
		bad=$((bad + 1))
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "check-format: $bad file(s) differ from .clang-format; run 'make format'" >&2
	exit 1
fi
exit 0
