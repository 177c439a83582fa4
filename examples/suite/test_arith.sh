#!/bin/sh
# A passing shell test: checks shell arithmetic and string handling.
set -e
[ $((6 * 7)) -eq 42 ]
x="distributed"
[ "${#x}" -eq 11 ]
echo "arith ok"
