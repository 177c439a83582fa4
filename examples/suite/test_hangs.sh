#!/bin/sh
# dtf: timeout=2
# A test that hangs: dtf kills it (and its children) at its 2 s timeout and reports a timeout.
sleep 60 &
sleep 60
