#!/bin/sh
# Checks that the source folders only include downwards (STYLE.md rule 1, DESIGN.md section 3):
#
#   src/common <- src/graphql (the GraphQL parser, used by a front-end)
#   src/common <- src/store, src/net <- src/sched <- src/core <- src/api <- src/coordinator <- src/cli
#   src/api <- src/gqlapi (GraphQL), src/dashboard (the web pages) <- src/coordinator
#   src/common, src/net, src/ci/http.h, src/plugin/proc.h <- src/notify (channels to outside
#   services) <- src/core
#
# The front-ends beside REST (src/gqlapi, src/dashboard) share the server through api/api.h (the
# request helpers) but never include REST's handlers or each other.
#
# scripts/check-layers.sh [ROOT]   (ROOT: the source tree, by default the one this script is in)
#
# It reads the #include lines of the *.c and *.h files under each checked folder and prints
# FILE:LINE, the include and the rule it breaks for each offender; exit 1 if there is one. A
# folder that does not exist is not checked. Includes without a folder ("internal.h") stay in their
# own folder and are always allowed; system headers are allowed unless a rule names them.
set -u

root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

bad=0

# check DIR MODE ERE RULE: MODE "deny" flags every include whose target (with its quotes or angle
# brackets, e.g. "api/rest.h" or <microhttpd.h>) matches ERE; MODE "only" flags every quoted
# include with a folder that does not match ERE.
check()
{
	dir=$1 mode=$2 pat=$3 rule=$4
	[ -d "$dir" ] || return 0
	files=$(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086 # the paths have no spaces
	# The pattern goes through the environment: awk -v would eat its backslashes.
	MODE=$mode PAT=$pat RULE=$rule awk '
	BEGIN { mode = ENVIRON["MODE"]; pat = ENVIRON["PAT"]; rule = ENVIRON["RULE"] }
	/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
		t = $0
		sub(/^[ \t]*#[ \t]*include[ \t]*/, "", t)
		if (substr(t, 1, 1) == "\"") {
			t = substr(t, 1, index(substr(t, 2), "\"") + 1)
			# "../api/x.h" from a source folder names api/x.h.
			gsub(/\.\.\//, "", t)
			gsub(/\.\//, "", t)
		} else {
			t = substr(t, 1, index(t, ">"))
		}
		if (mode == "deny" && t ~ pat || mode == "only" && t ~ /^"[^"]*\// && t !~ pat) {
			printf "%s:%d: #include %s: %s\n", FILENAME, FNR, t, rule
			n++
		}
	}
	END { exit n > 0 }' $files || bad=1
}

check src/common only '^"common/' \
	'src/common includes only common/'
check src/graphql only '^"(common|graphql)/' \
	'src/graphql includes only common/ and graphql/'
check src/store only '^"(common|store)/' \
	'src/store includes only common/ and store/'
check src/sched deny '^"(core|coordinator|api|cli)/|^"net/http\.h"$|^<microhttpd\.h>$' \
	'src/sched (the pending index, strategies) must not include core/, coordinator/, api/, cli/, net/http.h or <microhttpd.h>'
check src/core deny '^"(api|coordinator|cli)/|^"net/(http\.h|[^"]*server[^"]*)"$|^<microhttpd\.h>$' \
	'src/core (the coordinator core) must not include api/, coordinator/, cli/, net/http.h, net/ server headers or <microhttpd.h>'
check src/notify only '^"(common|net|notify)/|^"ci/http\.h"$|^"plugin/proc\.h"$|^"dtf/plugin\.h"$' \
	'src/notify includes common/, net/, ci/http.h, plugin/proc.h (running a program) and notify/ only'
check src/api deny '^"(gqlapi|dashboard|coordinator|cli)/' \
	'src/api must not include the other front-ends (gqlapi/, dashboard/), coordinator/ or cli/'
check src/gqlapi only '^"(common|net|graphql|sched|core|gqlapi)/|^"api/api\.h"$' \
	'src/gqlapi includes common/, net/, graphql/, sched/, core/, api/api.h and gqlapi/ only'
check src/dashboard only '^"(common|net|sched|core|report|dashboard)/|^"api/api\.h"$' \
	'src/dashboard includes common/, net/, sched/, core/, report/, api/api.h and dashboard/ only'

if [ "$bad" != 0 ]; then
	echo "check-layers: includes that go up a layer (see scripts/check-layers.sh)" >&2
	exit 1
fi
exit 0
