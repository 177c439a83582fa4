#!/bin/sh
# A failing test: it documents a known bug, so the suite always has one failure to report.
expected="3 items"
actual="2 items"
echo "comparing inventory counts"
if [ "$expected" != "$actual" ]; then
	echo "expected '$expected' but got '$actual'" >&2
	exit 1
fi
