"""openapi_check.py DESC METHOD TEMPLATE STATUS BODY [CONTENT_TYPE]: checks one real reply of the
coordinator against the OpenAPI description DESC (docs/openapi.json): the operation METHOD
TEMPLATE (a path of the description, e.g. /api/v1/tasks/{id}) must document STATUS, and a JSON
reply (the file BODY) must validate against the schema the description gives for it (JSON
Schema 2020-12, as OpenAPI 3.1 uses). Used by tests/e2e/test_openapi_replies.sh; exits 1 with
the reason on a mismatch."""
import json
import sys

import jsonschema

desc_path, method, template, status, body_path = sys.argv[1:6]
ctype = sys.argv[6] if len(sys.argv) > 6 else "application/json"
desc = json.load(open(desc_path))


def deref(node):
    while isinstance(node, dict) and "$ref" in node:
        at = desc
        for part in node["$ref"][2:].split("/"):
            at = at[part]
        node = at
    return node


def die(msg):
    print("openapi_check: %s %s -> %s: %s" % (method, template, status, msg), file=sys.stderr)
    sys.exit(1)


op = desc["paths"].get(template, {}).get(method.lower())
if op is None:
    die("no such operation in the description")
resp = op["responses"].get(status)
if resp is None:
    die("status %s is not documented (documented: %s)" % (status, ", ".join(op["responses"])))
resp = deref(resp)
media = ctype.split(";")[0].strip()
content = resp.get("content", {})
if media not in content:
    die("content type %s is not documented (documented: %s)" % (media, ", ".join(content)))
if media != "application/json":
    sys.exit(0)
schema = content[media]["schema"]
body = json.load(open(body_path))
# The schema is checked in the description's context so that its $refs resolve.
resolver = jsonschema.RefResolver.from_schema(desc)
validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
if errors:
    for e in errors[:5]:
        print("  at /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message), file=sys.stderr)
    die("the reply does not match its schema (%d errors): %s" % (len(errors),
                                                                 json.dumps(body)[:500]))
