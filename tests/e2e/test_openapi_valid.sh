#!/usr/bin/env bash
# The OpenAPI description (docs/openapi.json, served at GET /api/v1/openapi.json) is valid
# OpenAPI 3.1: the served document, byte for byte the file, is checked by the npm package
# @seriousme/openapi-schema-validator (the OpenAPI Initiative's 3.1 JSON schema, plus its $refs
# resolved). The package is installed by this test into $DTF_BUILD_DIR/npm-openapi (once; kept
# between runs). That the description lists exactly the routed operations is
# tests/unit/test_openapi.c; that real replies match its schemas is test_openapi_replies.sh.
#
# Without node and npm, or when the npm registry cannot be reached, the test says why and exits
# 77, which CTest reports as skipped: it never passes without having validated.
VALIDATOR="@seriousme/openapi-schema-validator@2.11.0"
NODE=$(command -v node || command -v nodejs || true)
NPM=$(command -v npm || true)
if [ -z "$NODE" ] || [ -z "$NPM" ]; then
	echo "SKIP: node and npm are needed to validate the OpenAPI description (Debian packages" \
		"'nodejs' and 'npm', see scripts/install-deps.sh)" >&2
	exit 77
fi
. "$(dirname "$0")/lib.sh"

CACHE="${DTF_BUILD_DIR:-$T}/npm-openapi"
PKG="$CACHE/node_modules/@seriousme/openapi-schema-validator/package.json"
if [ ! -f "$PKG" ]; then
	mkdir -p "$CACHE"
	log "installing $VALIDATOR into $CACHE"
	if ! timeout 180 "$NPM" install --no-save --no-audit --no-fund --prefix "$CACHE" \
		"$VALIDATOR" > "$T/npm.log" 2>&1; then
		echo "SKIP: could not install $VALIDATOR from the npm registry" \
			"(is it reachable?):" >&2
		tail -n 5 "$T/npm.log" >&2
		exit 77
	fi
fi

start_coordinator
code=$(http GET /api/v1/openapi.json)
assert_eq "$code" 200 "GET /api/v1/openapi.json"
cmp -s "$T/body" "$DTF_SOURCE_DIR/docs/openapi.json" ||
	fail "the served description differs from docs/openapi.json (rebuild?)"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$URL/api/v1/openapi.json")
assert_contains "$ctype" "application/json" "the description's content type"

# An ES module finds its imports next to itself: the script lives in the cache directory.
cat > "$CACHE/validate.mjs" <<'EOF2'
import { Validator } from "@seriousme/openapi-schema-validator";
const v = new Validator();
const res = await v.validate(process.argv[2]);
if (v.version !== "3.1") {
	console.error(`validated as OpenAPI ${v.version}, want 3.1`);
	process.exit(1);
}
if (!res.valid) {
	console.error(JSON.stringify(res.errors, null, 1));
	process.exit(1);
}
console.log("valid OpenAPI", v.version);
EOF2
out=$("$NODE" "$CACHE/validate.mjs" "$T/body" 2>&1) || fail "docs/openapi.json is not valid: $out"
log "$out"

# The validator is not a pushover: a broken document must be refused.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["paths"]["/healthz"]["get"]["responses"]["200"] = {"content": 5}
json.dump(d, open(sys.argv[2], "w"))' "$T/body" "$T/broken.json"
"$NODE" "$CACHE/validate.mjs" "$T/broken.json" > /dev/null 2>&1 &&
	fail "the validator accepted a broken description"
log "PASS"
