#!/bin/sh
# A passing test that uses its own work directory ($DTF_WORK_DIR).
set -e
cd "$DTF_WORK_DIR"
printf 'a\nb\nc\n' > data.txt
[ "$(wc -l < data.txt)" -eq 3 ]
sort -r data.txt | head -n 1 | grep -qx c
echo "files ok in $DTF_WORK_DIR"
