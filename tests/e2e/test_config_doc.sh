#!/usr/bin/env bash
# docs/configuration.md's option tables are what `dtf coordinator --print-config-doc` and `dtf
# worker --print-config-doc` print from the option tables in the source, so the doc cannot drift
# from the flags. To update the doc after changing a table, replace the text between each BEGIN
# and END marker with the command's output.
. "$(dirname "$0")/lib.sh"

doc="$DTF_SOURCE_DIR/docs/configuration.md"
for cmd in coordinator worker; do
	begin="<!-- BEGIN dtf $cmd --print-config-doc -->"
	end="<!-- END dtf $cmd --print-config-doc -->"
	grep -qxF "$begin" "$doc" || fail "$doc has no line '$begin'"
	grep -qxF "$end" "$doc" || fail "$doc has no line '$end'"
	awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on { print } $0 == b { on = 1 }' "$doc" \
		> "doc-$cmd.md"
	dtf "$cmd" --print-config-doc > "bin-$cmd.md" || fail "dtf $cmd --print-config-doc failed"
	diff -u "doc-$cmd.md" "bin-$cmd.md" ||
		fail "docs/configuration.md's table for dtf $cmd differs from dtf $cmd --print-config-doc (above: - the doc, + the binary)"
	# --help lists the same options (the hidden --print-config-doc aside).
	dtf "$cmd" --help > "help-$cmd.txt" || fail "dtf $cmd --help failed"
	for flag in $(grep -o '^| `--[a-z-]*' "bin-$cmd.md" | sed 's/^| `//'); do
		grep -qe "$flag\b" "help-$cmd.txt" || fail "dtf $cmd --help does not list $flag"
	done
done
echo "PASS: docs/configuration.md's option tables match the binary"
