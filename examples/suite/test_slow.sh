#!/bin/sh
# dtf: timeout=30 priority=1
# A slow test (about 2 seconds), scheduled first because it is the longest.
i=0
while [ $i -lt 4 ]; do
	sleep 0.5
	i=$((i + 1))
	echo "step $i"
done
