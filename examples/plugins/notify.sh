#!/bin/sh
# notify.sh [FILE]: an exec notification plugin in plain shell. dtf starts it once and writes one
# JSON event per line to its stdin:
#
#   {"hook":"task_failed","seq":7,"time":"2026-01-02T03:04:05.678Z","payload":{...}}
#
# and it appends one line per event to FILE (default ./dtf-notifications.log):
#
#   2026-01-02T03:04:05.678Z task_failed t-1f2e3d4c5b6a7980 name=build status=failed
#
# Configure it in dtf.yaml (plugins.config.notify.exec: [path/to/notify.sh, out.log]) and pick
# its events with plugins.config.notify.hooks. It ends when dtf closes its stdin. Anything it
# prints goes to dtf's log.
out=${1:-./dtf-notifications.log}

# field NAME JSON: the first string value of "NAME" in JSON (enough for dtf's flat documents).
field() {
	printf '%s\n' "$2" | sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p' | head -n 1
}

while IFS= read -r line; do
	hook=$(printf '%s\n' "$line" | sed -n 's/^{"hook":"\([a-z_]*\)".*/\1/p')
	[ -n "$hook" ] || continue
	time=$(printf '%s\n' "$line" | sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
	payload=${line#*\"payload\":}
	case "$hook" in
	task_*)
		# The task's own id and name come first in its document; "id" is matched whole.
		id=$(printf '%s\n' "$payload" | sed -n 's/^{\(.*,\)\{0,1\}"id":"\([^"]*\)".*/\2/p')
		printf '%s %s %s name=%s status=%s\n' "$time" "$hook" "$id" \
			"$(field name "$payload")" "$(field status "$payload")" >> "$out"
		;;
	worker_*)
		id=$(printf '%s\n' "$payload" | sed -n 's/^{\(.*,\)\{0,1\}"id":"\([^"]*\)".*/\2/p')
		printf '%s %s %s\n' "$time" "$hook" "$id" >> "$out"
		;;
	recovery_*)
		printf '%s %s task=%s strategy=%s\n' "$time" "$hook" "$(field task_id "$payload")" \
			"$(field strategy "$payload")" >> "$out"
		;;
	custom)
		printf '%s %s %s %s\n' "$time" "$hook" "$(field name "$payload")" \
			"$(field plugin "$payload")" >> "$out"
		;;
	*)
		printf '%s %s\n' "$time" "$hook" >> "$out"
		;;
	esac
done
