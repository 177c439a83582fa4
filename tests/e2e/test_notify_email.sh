#!/usr/bin/env bash
# dtf notify test against a real SMTP server (aiosmtpd) that requires STARTTLS, on a certificate
# made here, and AUTH: the message arrives multipart/alternative (text and HTML, UTF-8), with a
# non-ASCII subject that decodes back exactly, To and Cc, every recipient in the envelope, a Date
# and a Message-ID that a second send of the same key repeats. A wrong password, an untrusted
# certificate, and a server without STARTTLS are refused with nothing sent; `starttls: off` sends
# in clear only when set; smtps:// speaks TLS from the start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }
command -v openssl > /dev/null || { echo "SKIP: openssl is not installed"; exit 77; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" > "$T/openssl.log" 2>&1 ||
	fail "openssl req failed: $(cat "$T/openssl.log")"

# start_smtp NAME ARGS…: a server whose port goes in SMTP_PORT[NAME], messages in $T/NAME/.
declare -A SMTP_PORT=()
start_smtp() {
	local name=$1
	shift
	/usr/bin/python3 "$DTF_SOURCE_DIR/tests/e2e/smtp_server.py" --port-file "$T/$name.port" \
		--dir "$T/$name" "$@" >> "$T/smtp-$name.log" 2>&1 &
	track_pid $!
	wait_for -t 10 -m "the SMTP server $name" test -s "$T/$name.port"
	SMTP_PORT[$name]=$(cat "$T/$name.port")
}
count() { ls "$T/$1" 2> /dev/null | grep -c '\.json$'; }

PASS='e2e-Smtp-Pass-9731'
export SMTP_PASSWORD=$PASS SMTP_WRONG=wrong-password-123
start_smtp tls --cert "$T/cert.pem" --key "$T/key.pem" --user dtf-bot --password "$PASS"
start_smtp plain
start_smtp smtps --cert "$T/cert.pem" --key "$T/key.pem" --implicit-tls
SUBJECT='Testlauf fehlgeschlagen – nightly-2026-12-06 ✗ (37 Fehler, Größe: ünïcödé 日本語 über eine lange Zeile hinaus)'
cat > "$T/dtf.yaml" <<YAML
integrations:
  mail:
    type: email
    smtp_url: smtp://127.0.0.1:${SMTP_PORT[tls]}
    from: "dtf CI <ci@example.org>"
    to: [dev-team@example.org, "Lead Person <lead@example.org>"]
    cc: qa@example.org
    username: dtf-bot
    password_env: SMTP_PASSWORD
    ca_file: $T/cert.pem
    subject: "Testlauf fehlgeschlagen – {{run.name}} ✗ (37 Fehler, Größe: ünïcödé 日本語 über eine lange Zeile hinaus)"
    timeout_s: 5
  wrongpw:
    type: email
    smtp_url: smtp://127.0.0.1:${SMTP_PORT[tls]}
    from: ci@example.org
    to: dev-team@example.org
    username: dtf-bot
    password_env: SMTP_WRONG
    ca_file: $T/cert.pem
  untrusted:
    type: email
    smtp_url: smtp://127.0.0.1:${SMTP_PORT[tls]}
    from: ci@example.org
    to: dev-team@example.org
    username: dtf-bot
    password_env: SMTP_PASSWORD
  notls:
    type: email
    smtp_url: smtp://127.0.0.1:${SMTP_PORT[plain]}
    from: ci@example.org
    to: dev-team@example.org
  cleartext:
    type: email
    smtp_url: smtp://127.0.0.1:${SMTP_PORT[plain]}
    from: ci@example.org
    to: dev-team@example.org
    starttls: off
  implicit:
    type: email
    smtp_url: smtps://127.0.0.1:${SMTP_PORT[smtps]}
    from: ci@example.org
    to: dev-team@example.org
    ca_file: $T/cert.pem
  nopw:
    type: email
    smtp_url: smtp://127.0.0.1:1
    from: ci@example.org
    to: dev-team@example.org
    username: dtf-bot
  down:
    type: email
    smtp_url: smtp://127.0.0.1:1
    from: ci@example.org
    to: dev-team@example.org
  badurl:

    type: email
    smtp_url: http://127.0.0.1:1
    from: ci@example.org
    to: dev-team@example.org
YAML

notify --channel mail --repeat 2
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: accepted (SMTP 250) for 3 recipients" "answer"
assert_eq "$(count tls)" 2 "messages received"
/usr/bin/python3 - "$T/tls" "$SUBJECT" <<'PY' || fail "the received message is not what was sent"
import email, email.policy, json, sys
d, want = sys.argv[1], sys.argv[2]
msgs = [json.load(open("%s/%03d.json" % (d, i))) for i in range(2)]
m0 = msgs[0]
assert m0["mail_from"] == "ci@example.org", m0["mail_from"]
assert sorted(m0["rcpt_tos"]) == ["dev-team@example.org", "lead@example.org", "qa@example.org"], m0["rcpt_tos"]
assert m0["auth"] == "dtf-bot", m0["auth"]
raw = m0["content"]
assert "=?UTF-8?B?" in raw, "subject not RFC 2047 encoded"
assert all(ord(c) < 128 for c in raw), "raw message is not 7-bit"
msg = email.message_from_string(raw, policy=email.policy.default)
assert str(msg["Subject"]) == want, repr(str(msg["Subject"]))
assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
parts = [p.get_content_type() for p in msg.iter_parts()]
assert parts == ["text/plain", "text/html"], parts
text = msg.get_body(("plain",)).get_content()
html = msg.get_body(("html",)).get_content()
assert "checkout/test_payment.py::test_card_declined" in text and "and 27 more" in text, text
assert '"upstream <gateway> timed out"' in text, text
assert "&lt;gateway&gt;" in html and "<li><code>checkout/test_payment.py::test_card_declined</code>" in html, html
assert "and 27 more" in html, html
assert [a.addr_spec for a in msg["To"].addresses] == ["dev-team@example.org", "lead@example.org"], str(msg["To"])
assert [a.addr_spec for a in msg["Cc"].addresses] == ["qa@example.org"], str(msg["Cc"])
assert msg["From"].addresses[0].display_name == "dtf CI"
assert msg["Date"].datetime is not None
mid0 = msg["Message-ID"]
mid1 = email.message_from_string(msgs[1]["content"], policy=email.policy.default)["Message-ID"]
import re
assert mid0 == mid1 and re.fullmatch(r"<r-sample-0001\.run\.failed\.sample\.[0-9a-f]{16}@example\.org>", mid0), (mid0, mid1)
PY

# Refusals: nothing is sent.
notify --channel wrongpw
expect_failure 535 false
assert_contains "$NOTIFY_OUT" "Login denied" "wrong password"
notify --channel untrusted
expect_failure '*' false
assert_contains "$NOTIFY_OUT" "certificate" "an untrusted certificate"
assert_eq "$(count tls)" 2 "messages after the refusals"
notify --channel notls
expect_failure '*' false

assert_contains "$NOTIFY_OUT" "the server offers no STARTTLS" "no STARTTLS"
assert_eq "$(count plain)" 0 "messages sent in clear without starttls: off"
# ... unless starttls: off says so; smtps:// is TLS from the start.
notify --channel cleartext
[ "$NOTIFY_RC" = 0 ] || fail "starttls: off failed: $NOTIFY_OUT"
assert_eq "$(count plain)" 1 "messages sent in clear with starttls: off"
notify --channel implicit
[ "$NOTIFY_RC" = 0 ] || fail "smtps:// failed: $NOTIFY_OUT"
assert_eq "$(count smtps)" 1 "messages over smtps://"
assert_no_secret "$PASS"

# Configuration errors.
notify --channel nopw
assert_contains "$NOTIFY_OUT" "integrations.nopw.password_env: missing" "username without password"
notify --channel badurl
assert_contains "$NOTIFY_OUT" "integrations.badurl.smtp_url: must be smtp://" "bad URL"
# A server that is not there: a retry makes sense.
notify --channel down
expect_failure 0 true
log "ok"
