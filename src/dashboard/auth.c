/* auth.c: signing in to the dashboard when the coordinator has API keys (docs/dashboard.md): a
 * form that takes a key, checks it against the server's keys and keeps it in an HttpOnly,
 * SameSite=Strict cookie that the server (net/server.c) accepts as the key of GET requests only;
 * and signing out. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "dashboard/internal.h"
#include "report/timeline.h"

/* Form bodies past this are refused: a key is short. */
#define MAX_LOGIN_BODY 4096
#define MAX_KEY	       1024

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool dash_form_value(const char *body, size_t body_len, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name), i = 0;

	while (i < body_len) {
		size_t end = i, o = 0, j;
		while (end < body_len && body[end] != '&')
			end++;
		if (end - i > nlen && memcmp(body + i, name, nlen) == 0 && body[i + nlen] == '=') {
			for (j = i + nlen + 1; j < end; j++) {
				char ch = body[j];
				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					int hi = j + 2 < end ? hexval(body[j + 1]) : -1;
					int lo = j + 2 < end ? hexval(body[j + 2]) : -1;
					if (hi < 0 || lo < 0)
						return false;
					ch = (char)(hi * 16 + lo);
					j += 2;
				}
				if (ch == '\0' || o + 1 >= len)
					return false;
				out[o++] = ch;
			}
			out[o] = '\0';
			return true;
		}
		i = end + 1;
	}
	return false;
}

/* True if key can be a cookie's value as it is (RFC 6265 cookie-octets). */
static bool cookie_safe(const char *key)
{
	for (; *key; key++) {
		unsigned char ch = (unsigned char)*key;
		if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == ',' || ch == ';' || ch == '\\')
			return false;
	}
	return true;
}

static void login_page(struct dtf_http_req *r, unsigned status, const char *error)
{
	struct dtf_buf *b = &r->resp;
	int rc;

	rc = dash_page_begin(r, "Sign in", "login", NULL, NULL) ||
	     dtf_buf_adds(b, "<h1>Sign in</h1>\n<section>\n");
	if (!rc && !dtf_http_keys_required(r))
		rc = dtf_buf_adds(b, "<p id=\"no-key\">This coordinator needs no API key: "
				     "<a href=\"/\">open the overview</a>.</p>\n");
	if (!rc && error)
		rc = dtf_buf_adds(b, "<p class=\"error-text\" id=\"login-error\">") ||
		     dtf_html_escape(b, error) || dtf_buf_adds(b, "</p>\n");
	if (!rc)
		rc = dtf_buf_adds(
			 b, "<form class=\"login\" id=\"login\" method=\"post\" "
			    "action=\"/login\">\n<label for=\"key\">API key</label>\n"
			    "<input type=\"password\" id=\"key\" name=\"key\" "
			    "autocomplete=\"current-password\" required autofocus>\n"
			    "<button type=\"submit\" id=\"login-submit\">Sign in</button>\n"
			    "</form>\n<p class=\"muted\">The key is kept in a cookie that only "
			    "this coordinator reads, and only to show pages and read the API: a "
			    "change still needs the key in a request header.</p>\n</section>\n") ||
		     dash_page_end(r);
	if (rc) {
		dtf_http_reply_error(r, 500, "render_failed", "could not render the page");
		return;
	}
	r->status = status;
}

void dash_h_login_form(struct dtf_http_req *r)
{
	login_page(r, 200, NULL);
}

/* Answers 303 to location with a Set-Cookie of value (empty: the cookie is cleared). */
static void set_cookie_and_go(struct dtf_http_req *r, const char *value, const char *location)
{
	char cookie[MAX_KEY + 128];

	snprintf(cookie, sizeof(cookie), "dtf_key=%s; HttpOnly; SameSite=Strict; Path=/%s%s", value,
		 *value ? "" : "; Max-Age=0", dtf_http_tls(r) ? "; Secure" : "");
	dash_headers(r, NULL);
	dtf_http_add_header(r, "Set-Cookie", cookie);
	dtf_http_add_header(r, "Location", location);
	r->status = 303;
	r->content_type = "text/html; charset=utf-8";
	dtf_buf_reset(&r->resp);
	dtf_buf_printf(&r->resp, "<!DOCTYPE html><title>dtf</title><a href=\"%s\">Continue</a>\n",
		       location);
}

void dash_h_login(struct dtf_http_req *r)
{
	char key[MAX_KEY];
	struct dtf_key_info info;

	if (r->body_len > MAX_LOGIN_BODY) {
		login_page(r, 413, "The form is too large.");
		return;
	}
	if (!dash_form_value(r->body, r->body_len, "key", key, sizeof(key)) || !*key) {
		login_page(r, 400, "Enter an API key.");
		return;
	}
	if (!dtf_http_keys_required(r)) {
		set_cookie_and_go(r, "", "/");
		return;
	}
	/* A form that checks keys is a way to guess them: limited like any failed authentication
	 * (docs/auth.md). A key that cannot read (worker-enroll) cannot sign in either. */
	if (dtf_http_auth_limited(r)) {
		login_page(r, 429, "Too many failed sign-ins from this address; wait a moment.");
		return;
	}
	if (!dtf_http_key_lookup(r, key, &info) || !dtf_role_allows(info.role, DTF_ROLE_READ)) {
		dtf_http_auth_failed(r);
		login_page(r, 401, "That key is not valid.");
		return;
	}
	if (!cookie_safe(key)) {
		login_page(r, 400,
			   "This key has characters a cookie cannot hold; use the API with the "
			   "key in a header instead.");
		return;
	}
	set_cookie_and_go(r, key, "/");
}

void dash_h_logout(struct dtf_http_req *r)
{
	set_cookie_and_go(r, "", "/login");
}
