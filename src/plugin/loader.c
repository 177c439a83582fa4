/* loader.c: the plugins section of the configuration, discovery and loading.
 *
 *   plugins:
 *     directories: [/opt/dtf/plugins]      # scanned for *.so (then DTF_PLUGIN_PATH, a:b:c)
 *     enabled: [csv_results, notify, log]  # loaded in this order; hooks are called in it
 *     hook_timeout: 2                      # seconds a hook may take (default 2)
 *     config:
 *       csv_results: {output_file: results.csv}
 *       notify: {exec: [./notify.sh, out.log], hooks: [task_failed]}
 *
 * A name in `enabled` is, in this order: a path to a .so (it has a slash), an exec plugin (its
 * config block has `exec`), a plugin found in the directories (by the name in its descriptor,
 * else by its file name), or a built-in. Problems with the configuration are errors that name
 * the file, the line and the key; a plugin that exists but cannot be loaded is disabled and
 * reported. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/yaml.h"
#include "plugin/internal.h"

#define MAX_DIRS	   64
#define MAX_CANDIDATES	   512
#define MAX_HOOK_TIMEOUT_S 3600.0

/* The smallest descriptor of ABI 1: everything up to on_hook. */
#define MIN_DESC_SIZE	    (offsetof(struct dtf_plugin, on_hook) + sizeof(void (*)(void)))
#define OPS_MIN(type, last) (offsetof(struct type, last) + sizeof(((struct type *)0)->last))

/* ---- configuration text: lines for error messages ---- */

struct cfgtext {
	const char *text; /* may be NULL */
	size_t len;
	const char *name; /* the file, for messages */
};

static bool key_at(const struct cfgtext *t, size_t s, const char *key, size_t klen)
{
	const char *x = t->text;

	if (s + klen < t->len && strncmp(x + s, key, klen) == 0 && x[s + klen] == ':')
		return true;
	if (s + klen + 2 < t->len && (x[s] == '"' || x[s] == '\'') &&
	    strncmp(x + s + 1, key, klen) == 0 && x[s + 1 + klen] == x[s] && x[s + 2 + klen] == ':')
		return true;
	return false;
}

/* The offset of the first line at or after `from` that holds `key:` as a mapping key (also in
 * flow style, {key: v}), or -1. */
static long find_key(const struct cfgtext *t, size_t from, const char *key)
{
	size_t i = from, klen = strlen(key);

	if (!t->text)
		return -1;
	while (i < t->len) {
		size_t s = i, e = i;
		while (e < t->len && t->text[e] != '\n')
			e++;
		for (; s < e; s++) {
			char prev = s > i ? t->text[s - 1] : ' ';
			if ((prev == ' ' || prev == '\t' || prev == '-' || prev == '{' ||
			     prev == ',') &&
			    key_at(t, s, key, klen))
				return (long)i;
		}
		i = e + 1;
	}
	return -1;
}

static long find_text(const struct cfgtext *t, size_t from, const char *needle)
{
	const char *hit;

	if (!t->text || from >= t->len || !*needle)
		return -1;
	hit = memmem(t->text + from, t->len - from, needle, strlen(needle));
	if (!hit)
		return -1;
	while (hit > t->text && hit[-1] != '\n')
		hit--;
	return (long)(hit - t->text);
}

static int line_of(const struct cfgtext *t, long off)
{
	int line = 1;

	if (off < 0 || !t->text)
		return 0;
	for (long i = 0; i < off && (size_t)i < t->len; i++)
		if (t->text[i] == '\n')
			line++;
	return line;
}

/* The line of plugins.<k1>.<k2>…, or of the deepest part found; item (may be NULL) is a value
 * to find after the last key (a list item). */
static int path_line(const struct cfgtext *t, const char *k1, const char *k2, const char *k3,
		     const char *item)
{
	const char *keys[4] = {"plugins", k1, k2, k3};
	long off = 0, found = -1;
	int i;

	for (i = 0; i < 4 && keys[i]; i++) {
		long o = find_key(t, (size_t)off, keys[i]);
		if (o < 0)
			break;
		found = off = o;
	}
	if (item && found >= 0) {
		long o = find_text(t, (size_t)found, item);
		if (o >= 0)
			found = o;
	}
	return line_of(t, found);
}

static int cfg_error(const struct cfgtext *t, int line, char *err, size_t errlen, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));

static int cfg_error(const struct cfgtext *t, int line, char *err, size_t errlen, const char *fmt,
		     ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s", t->name, line, msg);
	else
		snprintf(err, errlen, "%s: %s", t->name, msg);
	return DTF_EINVAL;
}

/* ---- configuration values ---- */

struct pconf {
	const json_t *dirs;    /* array of strings, or NULL */
	const json_t *enabled; /* array of strings, or NULL */
	const json_t *config;  /* object, or NULL */
	double hook_timeout_s, init_timeout_s;
	size_t queue;
	bool strict;
};

static bool duration(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	return json_is_string(v) && dtf_parse_seconds(json_string_value(v), out) == 0;
}

static bool string_list(const json_t *v, bool allow_empty)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0))
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) || !*json_string_value(e))
			return false;
	return true;
}

static bool is_path_name(const char *name)
{
	size_t n = strlen(name);

	return strchr(name, '/') || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

/* Checks the keys dtf itself reads in a plugin's block. */
static int check_block(const struct cfgtext *t, const char *name, const json_t *block, char *err,
		       size_t errlen)
{
	json_t *v, *e;
	double d;
	size_t i;
	bool exec = json_object_get(block, "exec") != NULL;

#define BAD(key, ...)                                                                              \
	cfg_error(t, path_line(t, "config", name, key, NULL), err, errlen, __VA_ARGS__)
	if ((v = json_object_get(block, "hooks"))) {
		if (!string_list(v, true))
			return BAD("hooks", "plugins.config.%s.hooks must be a list of hook names",
				   name);
		json_array_foreach(v, i, e) {
			enum dtf_hook h;
			const char *hn = json_string_value(e);
			if (strcmp(hn, "all") != 0 && !dtf_hook_parse(hn, &h))
				return cfg_error(
				    t, path_line(t, "config", name, "hooks", hn), err, errlen,
				    "plugins.config.%s.hooks: unknown hook '%s' (hooks: "
				    "coordinator_startup, coordinator_shutdown, "
				    "task_created, task_assigned, task_started, "
				    "task_completed, task_failed, task_cancelled, "
				    "worker_registered, worker_disconnected, "
				    "worker_failed, worker_recovered, recovery_started, "
				    "recovery_completed, recovery_failed, custom, all)",
				    name, hn);
		}
	}
	if ((v = json_object_get(block, "hook_timeout")) &&
	    (!duration(v, &d) || !(d > 0) || d > MAX_HOOK_TIMEOUT_S))
		return BAD("hook_timeout",
			   "plugins.config.%s.hook_timeout must be a duration of up to %.0f s",
			   name, MAX_HOOK_TIMEOUT_S);
	if ((v = json_object_get(block, "max_errors")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1))
		return BAD("max_errors", "plugins.config.%s.max_errors must be an integer >= 1",
			   name);
	if (!exec)
		return 0;
	v = json_object_get(block, "exec");
	if (!(json_is_string(v) && *json_string_value(v)) && !string_list(v, false))
		return BAD("exec",
			   "plugins.config.%s.exec must be a program: a string or a list (program "
			   "and arguments)",
			   name);
	if ((v = json_object_get(block, "type"))) {
		unsigned ty;
		if (!json_is_string(v) || !dtf_plugin_type_parse(json_string_value(v), &ty))
			return BAD("type",
				   "plugins.config.%s.type must be one of custom, scheduler, "
				   "task_processor, results_handler, resource_manager, "
				   "notification, reporter",
				   name);
		if (ty != DTF_PLUGIN_TASK_PROCESSOR && ty != DTF_PLUGIN_CUSTOM &&
		    ty != DTF_PLUGIN_NOTIFICATION && ty != DTF_PLUGIN_RESULTS_HANDLER &&
		    ty != DTF_PLUGIN_REPORTER)
			return BAD("type",
				   "plugins.config.%s.type: an exec plugin cannot be a %s (it has "
				   "no way to answer); use a shared object",
				   name, json_string_value(v));
	}
	if ((v = json_object_get(block, "task_types"))) {
		if (!string_list(v, false))
			return BAD("task_types",
				   "plugins.config.%s.task_types must be a list of task type names",
				   name);
		json_array_foreach(v, i, e)
			if (!dtf_valid_id(json_string_value(e)))
				return BAD(
				    "task_types",
				    "plugins.config.%s.task_types: '%s' is not a valid type name",
				    name, json_string_value(e));
	}
	if ((v = json_object_get(block, "timeout")) && (!duration(v, &d) || !(d > 0) || d > 1e7))
		return BAD("timeout",
			   "plugins.config.%s.timeout must be a positive duration (at most 1e7 s)",
			   name);
	if ((v = json_object_get(block, "output_cap")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 ||
	     json_integer_value(v) > (json_int_t)(64u << 20)))
		return BAD("output_cap", "plugins.config.%s.output_cap must be 1..67108864 bytes",
			   name);
	if ((v = json_object_get(block, "max_restarts")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1))
		return BAD("max_restarts", "plugins.config.%s.max_restarts must be an integer >= 1",
			   name);
	if ((v = json_object_get(block, "cwd")) && !json_is_string(v))
		return BAD("cwd", "plugins.config.%s.cwd must be a string", name);
	if ((v = json_object_get(block, "env"))) {
		const char *k;
		if (!json_is_object(v))
			return BAD("env", "plugins.config.%s.env must be a mapping of strings",
				   name);
		json_object_foreach(v, k, e)
			if (!json_is_string(e) || !*k || strchr(k, '='))
				return BAD("env",
					   "plugins.config.%s.env.%s must be a "
					   "string (and the name have no '=')",
					   name, k);
	}
#undef BAD
	return 0;
}

static int parse_section(const json_t *doc, const struct cfgtext *t, struct pconf *pc, char *err,
			 size_t errlen)
{
	const json_t *sec = json_is_object(doc) ? json_object_get(doc, "plugins") : NULL;
	const char *k;
	json_t *v;
	size_t i, j;

	memset(pc, 0, sizeof(*pc));
	pc->hook_timeout_s = DTF_PLUGIN_DEFAULT_HOOK_TIMEOUT_S;
	pc->init_timeout_s = DTF_PLUGIN_DEFAULT_INIT_TIMEOUT_S;
	pc->queue = DTF_PLUGIN_DEFAULT_QUEUE;
	if (!sec || json_is_null(sec))
		return 0;
	if (!json_is_object(sec))
		return cfg_error(t, line_of(t, find_key(t, 0, "plugins")), err, errlen,
				 "plugins must be a mapping (directories, enabled, config, …)");
	json_object_foreach((json_t *)sec, k, v) {
		int line = path_line(t, k, NULL, NULL, NULL);
		double d;

		if (strcmp(k, "directories") == 0) {
			if (json_is_string(v) && *json_string_value(v))
				continue; /* one directory */
			if (!string_list(v, true))
				return cfg_error(
				    t, line, err, errlen,
				    "plugins.directories must be a list of directories");
			if (json_array_size(v) > MAX_DIRS)
				return cfg_error(t, line, err, errlen,
						 "plugins.directories: at most %d", MAX_DIRS);
		} else if (strcmp(k, "enabled") == 0) {
			json_t *e;
			if (!string_list(v, true))
				return cfg_error(t, line, err, errlen,
						 "plugins.enabled must be a list of plugin names");
			if (json_array_size(v) > DTF_PLUGIN_MAX_PLUGINS)
				return cfg_error(t, line, err, errlen,
						 "plugins.enabled: at most %d plugins",
						 DTF_PLUGIN_MAX_PLUGINS);
			json_array_foreach(v, i, e) {
				const char *name = json_string_value(e);
				if (!is_path_name(name) && !dtf_valid_id(name))
					return cfg_error(
					    t, path_line(t, "enabled", NULL, NULL, name), err,
					    errlen,
					    "plugins.enabled[%zu]: '%s' is not a plugin name (1-64 "
					    "of A-Z a-z 0-9 . _ -) or a path to a .so",
					    i, name);
				for (j = 0; j < i; j++)
					if (strcmp(json_string_value(json_array_get(v, j)), name) ==
					    0)
						return cfg_error(
						    t, path_line(t, "enabled", NULL, NULL, name),
						    err, errlen,
						    "plugins.enabled[%zu]: '%s' is listed twice", i,
						    name);
			}
		} else if (strcmp(k, "config") == 0) {
			const char *name;
			json_t *block;
			if (!json_is_object(v))
				return cfg_error(
				    t, line, err, errlen,
				    "plugins.config must be a mapping of plugin name to "
				    "its settings");
			json_object_foreach(v, name, block) {
				int rc;
				if (!json_is_object(block) && !json_is_null(block))
					return cfg_error(
					    t, path_line(t, "config", name, NULL, NULL), err,
					    errlen, "plugins.config.%s must be a mapping", name);
				rc = check_block(t, name, block, err, errlen);
				if (rc)
					return rc;
			}
		} else if (strcmp(k, "entry_points") == 0) {
			/* The seed's Python entry points; dtf loads shared objects instead. */
			if (!json_is_array(v) && !json_is_null(v))
				return cfg_error(t, line, err, errlen,
						 "plugins.entry_points must be a list");
		} else if (strcmp(k, "hook_timeout") == 0 || strcmp(k, "init_timeout") == 0) {
			if (!duration(v, &d) || !(d > 0) || d > MAX_HOOK_TIMEOUT_S)
				return cfg_error(
				    t, line, err, errlen,
				    "plugins.%s must be a duration in seconds (0.5, 2, "
				    "\"2s\", \"1m\") of up to %.0f s",
				    k, MAX_HOOK_TIMEOUT_S);
		} else if (strcmp(k, "queue_size") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > DTF_PLUGIN_MAX_QUEUE)
				return cfg_error(t, line, err, errlen,
						 "plugins.queue_size must be an integer 1..%d",
						 DTF_PLUGIN_MAX_QUEUE);
		} else if (strcmp(k, "strict") == 0) {
			if (!json_is_boolean(v))
				return cfg_error(t, line, err, errlen,
						 "plugins.strict must be true or false");
		} else {
			return cfg_error(t, line, err, errlen,
					 "unknown key plugins.%s (known: directories, enabled, "
					 "config, hook_timeout, init_timeout, queue_size, strict, "
					 "entry_points)",
					 k);
		}
	}
	v = json_object_get(sec, "directories");
	pc->dirs = json_is_array(v) || json_is_string(v) ? v : NULL;
	pc->enabled =
	    json_is_array(json_object_get(sec, "enabled")) ? json_object_get(sec, "enabled") : NULL;
	pc->config =
	    json_is_object(json_object_get(sec, "config")) ? json_object_get(sec, "config") : NULL;
	duration(json_object_get(sec, "hook_timeout"), &pc->hook_timeout_s);
	duration(json_object_get(sec, "init_timeout"), &pc->init_timeout_s);
	if (json_is_integer(json_object_get(sec, "queue_size")))
		pc->queue = (size_t)json_integer_value(json_object_get(sec, "queue_size"));
	pc->strict = json_is_true(json_object_get(sec, "strict"));
	return 0;
}

int dtf_plugins_config_check(const json_t *config_doc, const char *text, size_t len,
			     const char *name, char *err, size_t errlen)
{
	struct cfgtext t = {text, text ? len : 0, name ? name : "config"};
	struct pconf pc;

	return parse_section(config_doc, &t, &pc, err, errlen);
}

/* ---- discovery ---- */

struct cand {
	char *path;
	char base[PLUGIN_NAME_MAX]; /* file name without lib and .so */
	void *dl;
	const struct dtf_plugin *desc;
	char name[PLUGIN_NAME_MAX];	/* from the descriptor, "" if unknown */
	char reason[PLUGIN_REASON_MAX]; /* why it cannot be used, "" if it can */
	bool used;
};

struct cands {
	struct cand *v;
	size_t n;
};

typedef const struct dtf_plugin *(*entry_fn)(void);

/* Checks a descriptor; writes its name when it can be read and the reason it is refused. */
static bool check_desc(const struct dtf_plugin *d, char *name, size_t namelen, char *why,
		       size_t whylen)
{
	name[0] = '\0';
	if (d->struct_size >= offsetof(struct dtf_plugin, name) + sizeof(d->name) && d->name &&
	    dtf_valid_id(d->name))
		snprintf(name, namelen, "%s", d->name);
	if (d->abi_version > DTF_PLUGIN_ABI_VERSION) {
		snprintf(
		    why, whylen,
		    "built for plugin ABI %u, newer than this dtf's ABI %d: rebuild it against "
		    "this dtf's include/dtf/plugin.h, or upgrade dtf",
		    d->abi_version, DTF_PLUGIN_ABI_VERSION);
		return false;
	}
	if (d->abi_version < DTF_PLUGIN_ABI_MIN) {
		snprintf(why, whylen,
			 "built for plugin ABI %u, older than the oldest this dtf loads (%d): "
			 "rebuild it",
			 d->abi_version, DTF_PLUGIN_ABI_MIN);
		return false;
	}
	if (d->struct_size < MIN_DESC_SIZE) {
		snprintf(why, whylen,
			 "its descriptor is %u bytes, less than the %zu of the smallest ABI %d "
			 "descriptor (was struct_size set to sizeof(struct dtf_plugin)?)",
			 d->struct_size, (size_t)MIN_DESC_SIZE, DTF_PLUGIN_ABI_MIN);
		return false;
	}
	if (!name[0]) {
		snprintf(why, whylen,
			 "its descriptor has no valid name (1-64 of A-Z a-z 0-9 . _ -)");
		return false;
	}
	return true;
}

static void probe(struct cand *c)
{
	entry_fn entry;
	void *sym;
	const char *slash = strrchr(c->path, '/'), *file = slash ? slash + 1 : c->path;
	size_t n;

	if (strncmp(file, "lib", 3) == 0 && strlen(file) > 6)
		file += 3;
	n = strlen(file);
	if (n > 3 && strcmp(file + n - 3, ".so") == 0)
		n -= 3;
	snprintf(c->base, sizeof(c->base), "%.*s", (int)n, file);
	c->dl = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
	if (!c->dl) {
		snprintf(c->reason, sizeof(c->reason), "cannot load %s: %s", c->path, dlerror());
		return;
	}
	sym = dlsym(c->dl, DTF_PLUGIN_ENTRY_SYMBOL);
	if (!sym) {
		snprintf(c->reason, sizeof(c->reason),
			 "%s has no %s symbol: not a dtf plugin (define it with DTF_PLUGIN_EXPORT; "
			 "see docs/plugins.md)",
			 c->path, DTF_PLUGIN_ENTRY_SYMBOL);
		return;
	}
	memcpy(&entry, &sym, sizeof(entry));
	c->desc = entry();
	if (!c->desc) {
		snprintf(c->reason, sizeof(c->reason), "%s: %s() returned NULL", c->path,
			 DTF_PLUGIN_ENTRY_SYMBOL);
		return;
	}
	if (!check_desc(c->desc, c->name, sizeof(c->name), c->reason, sizeof(c->reason))) {
		char tmp[PLUGIN_REASON_MAX];
		snprintf(tmp, sizeof(tmp), "%s", c->reason);
		snprintf(c->reason, sizeof(c->reason), "%s: %s", c->path, tmp);
	}
}

static struct cand *cand_add(struct cands *cs, const char *path)
{
	struct cand *v, *c;

	if (cs->n >= MAX_CANDIDATES)
		return NULL;
	v = realloc(cs->v, (cs->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	cs->v = v;
	c = &cs->v[cs->n++];
	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	probe(c);
	return c;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every *.so of dir (in name order) to cs. Returns 0, or DTF_ENOTFOUND when the directory
 * cannot be read. */
static int scan_dir(struct cands *cs, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[PATH_MAX];
	size_t n = 0, i;

	if (!d)
		return DTF_ENOTFOUND;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char **nn;
		if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || n >= MAX_CANDIDATES)
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (names[i] && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			struct cand *c = cand_add(cs, path);
			/* A name found earlier wins; a later one is only listed. */
			for (size_t j = 0; c && c->name[0] && !c->reason[0] && j + 1 < cs->n; j++)
				if (strcmp(cs->v[j].name, c->name) == 0 && !cs->v[j].reason[0]) {
					snprintf(c->reason, sizeof(c->reason),
						 "%s: plugin '%s' already comes from %s", c->path,
						 c->name, cs->v[j].path);
					break;
				}
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

static void cands_release(struct cands *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++) {
		if (cs->v[i].dl && !cs->v[i].used)
			dlclose(cs->v[i].dl);
		free(cs->v[i].path);
	}
	free(cs->v);
	cs->v = NULL;
	cs->n = 0;
}

/* ---- loading ---- */

static char *resolve(const char *base, const char *path)
{
	char *out = NULL;

	if (path[0] == '/' || !base || !*base)
		return strdup(path);
	if (asprintf(&out, "%s/%s", base, path) < 0)
		return NULL;
	return out;
}

static const char *source_name(const struct dtf_plugin_ctx *pl)
{
	return pl->source == SRC_BUILTIN ? "builtin" : pl->source == SRC_EXEC ? "exec" : "so";
}

static char **strv_copy(const char *const *v)
{
	size_t n = 0, i;
	char **out;

	while (v && v[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	for (i = 0; out && i < n; i++)
		out[i] = strdup(v[i]);
	return out;
}

static char **strv_from_json(const json_t *list)
{
	size_t n = json_array_size(list), i;
	char **out = calloc(n + 1, sizeof(*out));

	for (i = 0; out && i < n; i++)
		out[i] = strdup(json_string_value(json_array_get(list, i)));
	return out;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Copies the descriptor and its operation tables, each zero-extended to what dtf knows. */
static int adopt_desc(struct dtf_plugin_ctx *pl, const struct dtf_plugin *d, char *why,
		      size_t whylen)
{
	size_t n = d->struct_size < sizeof(pl->d) ? d->struct_size : sizeof(pl->d);

	memset(&pl->d, 0, sizeof(pl->d));
	memcpy(&pl->d, d, n);
	snprintf(pl->version, sizeof(pl->version), "%s", pl->d.version ? pl->d.version : "?");
	if (pl->d.description)
		pl->description = strdup(pl->d.description);
#define ADOPT(field, type, last)                                                                   \
	do {                                                                                       \
		if (pl->d.field) {                                                                 \
			uint32_t sz = pl->d.field->struct_size;                                    \
			if (sz < OPS_MIN(type, last)) {                                            \
				snprintf(why, whylen,                                              \
					 "its " #field " table is %u bytes, smaller than the %zu " \
					 "of ABI %d",                                              \
					 sz, (size_t)OPS_MIN(type, last), DTF_PLUGIN_ABI_MIN);     \
				return DTF_EINVAL;                                                 \
			}                                                                          \
			memcpy(&pl->field, pl->d.field,                                            \
			       sz < sizeof(pl->field) ? sz : sizeof(pl->field));                   \
			pl->has_##field = true;                                                    \
		}                                                                                  \
	} while (0)
	ADOPT(scheduler, dtf_scheduler_ops, order);
	ADOPT(task_processor, dtf_task_processor_ops, run);
	ADOPT(results_handler, dtf_results_handler_ops, handle_result);
	ADOPT(resource_manager, dtf_resource_manager_ops, detect);
	ADOPT(notifier, dtf_notifier_ops, notify);
	ADOPT(reporter, dtf_reporter_ops, render);
	/* ABI 2: a descriptor of ABI 1 ends before channel (adopted zeroed above). */
	ADOPT(channel, dtf_channel_ops, send);
#undef ADOPT
	if (pl->has_channel) {
		const char *t = pl->channel.type;
		size_t i, len = t ? strlen(t) : 0;
		bool ok = pl->channel.send && len > 0 && len < sizeof(pl->channel_type);
		for (i = 0; ok && i < len; i++)
			ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
			     t[i] == '_';
		if (!ok) {
			snprintf(why, whylen,
				 "its channel table has no send() or a type that is not "
				 "[a-z0-9_]+");
			return DTF_EINVAL;
		}
		snprintf(pl->channel_type, sizeof(pl->channel_type), "%s", t);
	}
	if (pl->d.type >= DTF_PLUGIN_TYPE__COUNT) {
		snprintf(why, whylen, "unknown plugin type %u", pl->d.type);
		return DTF_EINVAL;
	}
	if (pl->has_task_processor) {
		if (!pl->task_processor.run || !pl->task_processor.task_types ||
		    !pl->task_processor.task_types[0]) {
			snprintf(why, whylen,
				 "its task_processor table has no run() or no task types");
			return DTF_EINVAL;
		}
		for (const char *const *t = pl->task_processor.task_types; *t; t++)
			if (!dtf_valid_id(*t)) {
				snprintf(why, whylen, "task type '%s' is not a valid name", *t);
				return DTF_EINVAL;
			}
		pl->task_types = strv_copy(pl->task_processor.task_types);
	} else if (pl->d.type == DTF_PLUGIN_TASK_PROCESSOR) {
		snprintf(why, whylen, "it is a task processor without a task_processor table");
		return DTF_EINVAL;
	}
	return 0;
}

static uint64_t mask_from(const json_t *hooks, uint64_t dflt)
{
	uint64_t m = 0;
	size_t i;
	json_t *e;

	if (!json_is_array(hooks))
		return dflt ? dflt : DTF_HOOK_BIT(DTF_HOOK__COUNT) - 1;
	json_array_foreach(hooks, i, e) {
		enum dtf_hook h;
		if (strcmp(json_string_value(e), "all") == 0)
			m |= DTF_HOOK_BIT(DTF_HOOK__COUNT) - 1;
		else if (dtf_hook_parse(json_string_value(e), &h))
			m |= DTF_HOOK_BIT(h);
	}
	return m;
}

/* Takes what dtf reads from a plugin's block (its budget, its error tolerance) and keeps a copy
 * of the block for configure(). */
static void host_keys(struct dtf_plugins *p, struct dtf_plugin_ctx *pl, const json_t *block)
{
	double d;

	pl->hook_timeout_s = p->hook_timeout_s;
	pl->max_errors = 1;
	if (duration(json_object_get(block, "hook_timeout"), &d))
		pl->hook_timeout_s = d;
	if (json_is_integer(json_object_get(block, "max_errors")))
		pl->max_errors = (int)json_integer_value(json_object_get(block, "max_errors"));
	json_decref(pl->config);
	pl->config = json_is_object(block) ? json_deep_copy(block) : json_object();
}

/* Creates the context of enabled[i]: resolves what it is and adopts its descriptor. Returns
 * NULL with a configuration error in err. */
static struct dtf_plugin_ctx *resolve_plugin(struct dtf_plugins *p, struct cands *cs,
					     const struct cfgtext *t, const struct pconf *pc,
					     size_t index, const char *name, char *err,
					     size_t errlen)
{
	struct dtf_plugin_ctx *pl = calloc(1, sizeof(*pl));
	const json_t *block = json_object_get(pc->config, name);
	const struct plugin_builtin *b;
	struct cand *c = NULL;
	char why[PLUGIN_REASON_MAX] = "";
	size_t i;

	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pl->owner = p;
	pl->index = (int)index;
	pl->st = PS_ENABLED;
	snprintf(pl->name, sizeof(pl->name), "%s", name);
	snprintf(pl->version, sizeof(pl->version), "?");
	host_keys(p, pl, block);

	if (is_path_name(name)) {
		char *path = resolve(p->config_dir, name);
		c = path ? cand_add(cs, path) : NULL;
		free(path);
		if (!c) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		pl->source = SRC_SO;
		pl->path = strdup(c->path);
		if (c->name[0]) {
			snprintf(pl->name, sizeof(pl->name), "%s", c->name);
			host_keys(p, pl, json_object_get(pc->config, c->name));
		}
	} else if (json_object_get(block, "exec")) {
		json_t *types = json_object_get(block, "task_types");
		unsigned ty = json_is_array(types) ? DTF_PLUGIN_TASK_PROCESSOR : DTF_PLUGIN_CUSTOM;
		pl->source = SRC_EXEC;
		dtf_plugin_type_parse(dtf_json_str(block, "type", NULL), &ty);
		memset(&pl->d, 0, sizeof(pl->d));
		pl->d.abi_version = DTF_PLUGIN_ABI_VERSION;
		pl->d.struct_size = sizeof(pl->d);
		pl->d.name = pl->name;
		pl->d.type = ty;
		snprintf(pl->version, sizeof(pl->version), "exec");
		pl->d.version = pl->version;
		pl->exec = exec_plugin_new(name, block, p->config_dir, why, sizeof(why));
		if (pl->exec)
			pl->path = strdup(exec_plugin_program(pl->exec));
		else
			pl->path = strdup(dtf_json_str(block, "exec", "?"));
		if (json_is_array(types))
			pl->task_types = strv_from_json(types);
		/* A per-task program gets no events unless it asks for them. */
		if (json_is_array(types) && !json_object_get(block, "hooks"))
			pl->mask = 0;
		else
			pl->mask = mask_from(json_object_get(block, "hooks"), 0);
		if (asprintf(&pl->description, "exec: %s", pl->path) < 0)
			pl->description = NULL;
		if (!pl->exec)
			goto refused;
		return pl;
	} else {
		for (i = 0; i < cs->n && !c; i++)
			if (strcmp(cs->v[i].name, name) == 0 && !cs->v[i].used &&
			    !cs->v[i].reason[0])
				c = &cs->v[i];
		for (i = 0; i < cs->n && !c; i++)
			if (strcmp(cs->v[i].name, name) == 0 && !cs->v[i].used)
				c = &cs->v[i];
		for (i = 0; i < cs->n && !c; i++)
			if (!cs->v[i].name[0] && strcmp(cs->v[i].base, name) == 0 && !cs->v[i].used)
				c = &cs->v[i];
		if (c) {
			pl->source = SRC_SO;
			pl->path = strdup(c->path);
		} else if ((b = plugin_builtin_find(name)) && b->entry) {
			pl->source = SRC_BUILTIN;
			if (adopt_desc(pl, b->entry(), why, sizeof(why)))
				goto refused;
			pl->mask = mask_from(json_object_get(block, "hooks"), pl->d.hooks);
			return pl;
		} else if (b) {
			cfg_error(t, path_line(t, "enabled", NULL, NULL, name), err, errlen,
				  "plugins.enabled[%zu]: '%s' is a kind, not a plugin: name your "
				  "plugin and give its program in plugins.config.<name>.exec",
				  index, name);
			goto fail;
		} else {
			char searched[1024] = "";
			size_t used = 0;
			json_t *e;
			json_array_foreach(pc->dirs, i, e) {
				int k = snprintf(searched + used, sizeof(searched) - used, "%s%s",
						 used ? ", " : "", json_string_value(e));
				if (k > 0 && (size_t)k < sizeof(searched) - used)
					used += (size_t)k;
			}
			cfg_error(t, path_line(t, "enabled", NULL, NULL, name), err, errlen,
				  "plugins.enabled[%zu]: no plugin named '%s' (not built in, no "
				  "plugins.config.%s.exec, and no .so of that name in %s%s%s)",
				  index, name, name, used ? searched : "plugins.directories",
				  getenv("DTF_PLUGIN_PATH") ? " or DTF_PLUGIN_PATH=" : "",
				  getenv("DTF_PLUGIN_PATH") ? getenv("DTF_PLUGIN_PATH") : "");
			goto fail;
		}
	}
	/* A shared object. */
	c->used = true;
	pl->dl = c->dl;
	if (c->reason[0]) {
		snprintf(why, sizeof(why), "%s", c->reason);
		if (c->desc &&
		    c->desc->struct_size >=
			offsetof(struct dtf_plugin, version) + sizeof(c->desc->version) &&
		    c->desc->version)
			snprintf(pl->version, sizeof(pl->version), "%s", c->desc->version);
		goto refused;
	}
	if (adopt_desc(pl, c->desc, why, sizeof(why)))
		goto refused;
	pl->mask = mask_from(json_object_get(pl->config, "hooks"), pl->d.hooks);
	return pl;
refused:
	/* Known but unusable: listed as disabled with the reason once everyone's subscriptions
	 * are known (start_plugin), so plugin_failed reaches the others. */
	pl->refused = true;
	snprintf(pl->reason, sizeof(pl->reason), "%s", why);
	return pl;
fail:
	json_decref(pl->config);
	free(pl->path);
	free(pl->description);
	strv_free(pl->task_types);
	exec_plugin_free(pl->exec);
	free(pl);
	return NULL;
}

/* Initializes and configures one plugin on its thread. */
static void start_plugin(struct dtf_plugins *p, struct dtf_plugin_ctx *pl)
{
	struct plugin_call *c;
	int rc;

	if (pl->refused) {
		char why[PLUGIN_REASON_MAX];
		snprintf(why, sizeof(why), "%s", pl->reason);
		pl->refused = false;
		plugin_disable(pl, "%s", why);
		return;
	}
	if (pl->st != PS_ENABLED)
		return;
	if (plugin_thread_start(pl) != 0) {
		plugin_disable(pl, "cannot start its thread");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->kind = CALL_INIT;
	rc = plugin_call(pl, c, p->init_timeout_s);
	if (rc == DTF_ETIMEOUT) {
		plugin_disable(pl, "init took longer than %.1f s", p->init_timeout_s);
		return;
	}
	free(c);
	if (rc != 0) {
		char last[PLUGIN_REASON_MAX];
		pthread_mutex_lock(&p->lock);
		snprintf(last, sizeof(last), "%s", pl->last_error);
		pthread_mutex_unlock(&p->lock);
		plugin_disable(pl, "init failed (%d)%s%s", rc, last[0] ? ": " : "", last);
		return;
	}
	pl->initialized = true;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->kind = CALL_CONFIGURE;
	c->config_json = json_dumps(pl->config, JSON_COMPACT);
	rc = plugin_call(pl, c, p->init_timeout_s);
	if (rc == DTF_ETIMEOUT) {
		plugin_disable(pl, "configure took longer than %.1f s", p->init_timeout_s);
		return;
	}
	if (rc != 0) {
		char last[PLUGIN_REASON_MAX];
		pthread_mutex_lock(&p->lock);
		snprintf(last, sizeof(last), "%s", c->err[0] ? c->err : pl->last_error);
		pthread_mutex_unlock(&p->lock);
		plugin_disable(pl, "configure failed (%d)%s%s", rc, last[0] ? ": " : "", last);
	} else if (c->out) {
		char perr[128];
		json_t *caps = dtf_json_parse(c->out, strlen(c->out), perr, sizeof(perr));
		if (json_is_object(caps)) {
			pthread_mutex_lock(&p->lock);
			pl->caps = caps;
			pthread_mutex_unlock(&p->lock);
		} else {
			log_warn("plugin %s: capabilities() is not a JSON object (%s); ignored",
				 pl->name, perr);
			json_decref(caps);
		}
	}
	free(c->config_json);
	free(c->out);
	free(c);
}

/* A list entry for a plugin that was found but is not enabled. */
static json_t *other_entry(const char *name, const char *version, unsigned type, const char *source,
			   const char *path, const char *description, const char *state,
			   const char *reason)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{}}", "name", name, "version", version,
			      "type", dtf_plugin_type_name(type), "source", source, "state", state,
			      "enabled", 0, "capabilities");
	if (path)
		json_object_set_new(o, "path", json_string(path));
	if (description)
		json_object_set_new(o, "description", json_string(description));
	if (reason && *reason)
		json_object_set_new(o, "reason", json_string(reason));
	return o;
}

static void list_others(struct dtf_plugins *p, struct cands *cs)
{
	const struct plugin_builtin *b;
	size_t i, j;

	for (b = plugin_builtins; b->name; b++) {
		bool enabled = false;
		for (j = 0; j < p->n; j++)
			if (p->v[j]->source == SRC_BUILTIN && strcmp(p->v[j]->name, b->name) == 0)
				enabled = true;
		if (enabled)
			continue;
		if (b->entry) {
			const struct dtf_plugin *d = b->entry();
			json_array_append_new(p->others,
					      other_entry(d->name, d->version, d->type, "builtin",
							  NULL, d->description, "available", NULL));
		} else {
			json_array_append_new(
			    p->others, other_entry(b->name, "-", DTF_PLUGIN_CUSTOM, "builtin", NULL,
						   b->help, "available", NULL));
		}
	}
	for (i = 0; i < cs->n; i++) {
		struct cand *c = &cs->v[i];
		const struct dtf_plugin *d = c->desc;
		bool readable =
		    d && d->struct_size >= offsetof(struct dtf_plugin, type) + sizeof(d->type);
		if (c->used)
			continue;
		json_array_append_new(
		    p->others,
		    other_entry(
			c->name[0] ? c->name : c->base, readable && d->version ? d->version : "?",
			readable && !c->reason[0] ? d->type : DTF_PLUGIN_CUSTOM, c->path, c->path,
			!c->reason[0] &&
				d->struct_size >= offsetof(struct dtf_plugin, description) +
						      sizeof(d->description)
			    ? d->description
			    : NULL,
			c->reason[0] ? "invalid" : "available", c->reason));
	}
}

static void collect_task_types(struct dtf_plugins *p)
{
	size_t i, n = 0, cap = 0;
	char **out = NULL;

	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (pl->st != PS_ENABLED || !pl->task_types)
			continue;
		for (char **t = pl->task_types; *t; t++) {
			bool dup = false;
			for (size_t j = 0; j < n; j++)
				dup = dup || strcmp(out[j], *t) == 0;
			if (dup)
				continue;
			if (n + 2 > cap) {
				char **nn = realloc(out, (cap = cap ? cap * 2 : 8) * sizeof(*out));
				if (!nn)
					break;
				out = nn;
			}
			out[n++] = strdup(*t);
			out[n] = NULL;
		}
	}
	p->task_types = out;
}

static char *dir_of(const char *path)
{
	char buf[PATH_MAX], *slash;

	if (!path)
		return NULL;
	if (!realpath(path, buf))
		snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (!slash)
		return strdup(".");
	if (slash == buf)
		return strdup("/");
	*slash = '\0';
	return strdup(buf);
}

/* Scans plugins.directories (errors for missing ones) and DTF_PLUGIN_PATH (warnings). */
static int discover(struct dtf_plugins *p, const struct pconf *pc, const struct cfgtext *t,
		    struct cands *cs, char *err, size_t errlen)
{
	char *seen[MAX_DIRS * 2];
	size_t nseen = 0, i, k;
	const char *env = getenv("DTF_PLUGIN_PATH");
	int rc = 0;
	json_t *one = json_is_string(pc->dirs) ? json_pack("[O]", pc->dirs) : NULL;
	const json_t *dirs = one ? one : pc->dirs;
	char *envcopy = env ? strdup(env) : NULL;

	for (k = 0; k < 2 && rc == 0; k++) {
		size_t count = k == 0 ? json_array_size(dirs) : 0;
		char *save = NULL, *tok = NULL;
		if (k == 1 && envcopy)
			tok = strtok_r(envcopy, ":", &save);
		for (i = 0; k == 0 ? i < count : tok != NULL; i++) {
			const char *d = k == 0 ? json_string_value(json_array_get(dirs, i)) : tok;
			char *full = k == 0 ? resolve(p->config_dir, d) : strdup(d);
			char real[PATH_MAX];
			bool dup = false;
			if (!full) {
				rc = DTF_ENOMEM;
				break;
			}
			if (!realpath(full, real)) {
				if (k == 0) {
					rc = cfg_error(
					    t, path_line(t, "directories", NULL, NULL, d), err,
					    errlen, "plugins.directories[%zu]: %s: %s", i, full,
					    strerror(errno));
					free(full);
					break;
				}
				log_warn("DTF_PLUGIN_PATH: %s: %s; skipped", full, strerror(errno));
				free(full);
				tok = strtok_r(NULL, ":", &save);
				continue;
			}
			for (size_t j = 0; j < nseen; j++)
				dup = dup || strcmp(seen[j], real) == 0;
			if (!dup && nseen < MAX_DIRS * 2) {
				seen[nseen++] = strdup(real);
				if (scan_dir(cs, real) != 0) {
					if (k == 0) {
						rc = cfg_error(
						    t, path_line(t, "directories", NULL, NULL, d),
						    err, errlen,
						    "plugins.directories[%zu]: cannot read "
						    "%s",
						    i, real);
						free(full);
						break;
					}
					log_warn("DTF_PLUGIN_PATH: cannot read %s; skipped", real);
				}
			}
			free(full);
			if (k == 1)
				tok = strtok_r(NULL, ":", &save);
		}
	}
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(envcopy);
	json_decref(one);
	return rc;
}

struct dtf_plugins *dtf_plugins_load(const json_t *config_doc, const char *config_path,
				     const struct dtf_plugin_host_impl *host, char *err,
				     size_t errlen)
{
	struct dtf_plugins *p = calloc(1, sizeof(*p));
	struct cfgtext t = {NULL, 0, config_path ? config_path : "config"};
	char *text = NULL;
	struct cands cs = {0};
	struct pconf pc;
	size_t i, n;
	json_t *e;
	int rc;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	{
		pthread_condattr_t a;
		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&p->timer_cond, &a);
		pthread_condattr_destroy(&a);
	}
	if (host)
		p->impl = *host;
	plugin_host_init(p);
	p->others = json_array();
	if (config_path && dtf_read_file(config_path, DTF_YAML_MAX_BYTES, &text, &t.len) == 0)
		t.text = text;
	else
		t.len = 0;
	rc = parse_section(config_doc, &t, &pc, err, errlen);
	if (rc)
		goto fail;
	p->hook_timeout_s = pc.hook_timeout_s;
	p->init_timeout_s = pc.init_timeout_s;
	p->qcap = pc.queue;
	p->strict = pc.strict;
	p->config_dir = dir_of(config_path);
	if (json_object_get(json_object_get(config_doc, "plugins"), "entry_points"))
		log_warn(
		    "%s: plugins.entry_points is ignored: dtf plugins are shared objects found "
		    "in plugins.directories (or exec programs)",
		    t.name);
	rc = discover(p, &pc, &t, &cs, err, errlen);
	if (rc)
		goto fail;
	n = json_array_size(pc.enabled);
	p->v = calloc(n + 1, sizeof(*p->v));
	if (!p->v) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	json_array_foreach(pc.enabled, i, e) {
		struct dtf_plugin_ctx *pl =
		    resolve_plugin(p, &cs, &t, &pc, i, json_string_value(e), err, errlen);
		if (!pl)
			goto fail;
		for (size_t j = 0; j < p->n; j++)
			if (strcmp(p->v[j]->name, pl->name) == 0) {
				cfg_error(
				    &t, path_line(&t, "enabled", NULL, NULL, json_string_value(e)),
				    err, errlen,
				    "plugins.enabled[%zu]: plugin '%s' is enabled twice", i,
				    pl->name);
				p->v[p->n++] = pl;
				goto fail;
			}
		p->v[p->n++] = pl;
	}
	{
		const char *name;
		json_t *block;
		json_object_foreach((json_t *)pc.config, name, block) {
			bool found = false;
			for (i = 0; i < p->n; i++)
				found = found || strcmp(p->v[i]->name, name) == 0;
			if (!found)
				log_warn(
				    "%s:%d: plugins.config.%s: no enabled plugin has that name; "
				    "ignored",
				    t.name, path_line(&t, "config", name, NULL, NULL), name);
		}
	}
	/* Everyone's subscriptions first, so failures while starting reach the others. */
	plugin_update_subscriptions(p);
	for (i = 0; i < p->n; i++)
		start_plugin(p, p->v[i]);
	plugin_update_subscriptions(p);
	if (p->strict) {
		for (i = 0; i < p->n; i++)
			if (p->v[i]->st != PS_ENABLED) {
				cfg_error(&t, path_line(&t, "enabled", NULL, NULL, p->v[i]->name),
					  err, errlen, "plugin %s: %s (plugins.strict is on)",
					  p->v[i]->name, p->v[i]->reason);
				goto fail;
			}
	}
	collect_task_types(p);
	list_others(p, &cs);
	cands_release(&cs);
	if (plugin_dispatcher_start(p) != 0) {
		snprintf(err, errlen, "cannot start the plugin dispatcher");
		goto fail_started;
	}
	for (i = 0; i < p->n; i++)
		if (p->v[i]->st == PS_ENABLED)
			dtf_log(strcmp(p->host.role, "cli") == 0 ? DTF_LOG_DEBUG : DTF_LOG_INFO,
				"plugin %s %s (%s, %s%s%s) enabled", p->v[i]->name,
				p->v[i]->version, dtf_plugin_type_name(p->v[i]->d.type),
				source_name(p->v[i]), p->v[i]->path ? " " : "",
				p->v[i]->path ? p->v[i]->path : "");
	free(text);
	return p;
fail:
	cands_release(&cs);
fail_started:
	free(text);
	dtf_plugins_free(p);
	return NULL;
}

/* ---- listing ---- */

static json_t *hooks_json(uint64_t mask)
{
	json_t *a = json_array();
	int h;

	for (h = 0; h < DTF_HOOK__COUNT; h++)
		if (mask & DTF_HOOK_BIT(h))
			json_array_append_new(a, json_string(dtf_hook_name((enum dtf_hook)h)));
	return a;
}

static json_t *plugin_entry(struct dtf_plugin_ctx *pl)
{
	json_t *o, *counters;
	uint64_t mask = pl->mask;

	if (!pl->exec && !pl->d.on_hook && !pl->has_notifier)
		mask = pl->has_results_handler ? mask & DTF_HOOK_MASK_TASK_FINAL : 0;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "name", pl->name, "version", pl->version,
		      "type", dtf_plugin_type_name(pl->d.type), "source",
		      pl->source == SRC_SO && pl->path ? pl->path : source_name(pl), "state",
		      pl->st == PS_ENABLED ? "enabled" : "disabled", "enabled",
		      pl->st == PS_ENABLED, "capabilities",
		      pl->caps ? json_incref(pl->caps) : json_object(), "hooks", hooks_json(mask));
	if (pl->path)
		json_object_set_new(o, "path", json_string(pl->path));
	if (pl->description)
		json_object_set_new(o, "description", json_string(pl->description));
	if (pl->st != PS_ENABLED)
		json_object_set_new(o, "reason", json_string(pl->reason));
	if (pl->has_channel)
		json_object_set_new(o, "channel_type", json_string(pl->channel_type));
	if (pl->task_types) {
		json_t *tt = json_array();
		for (char **t = pl->task_types; *t; t++)
			json_array_append_new(tt, json_string(*t));
		json_object_set_new(o, "task_types", tt);
	}
	counters = json_pack("{s:I,s:I,s:I,s:f,s:f}", "events", (json_int_t)pl->n_events, "errors",
			     (json_int_t)pl->n_errors, "timeouts", (json_int_t)pl->n_timeouts,
			     "avg_ms", pl->n_events ? pl->total_ms / (double)pl->n_events : 0.0,
			     "max_ms", pl->max_ms);
	if (pl->task_types) {
		json_object_set_new(counters, "tasks",
				    json_integer((json_int_t)atomic_load(&pl->n_tasks)));
		json_object_set_new(counters, "task_failures",
				    json_integer((json_int_t)atomic_load(&pl->n_task_failures)));
	}
	if (pl->exec)
		json_object_set_new(counters, "starts",
				    json_integer((json_int_t)exec_plugin_starts(pl->exec)));
	json_object_set_new(o, "counters", counters);
	json_object_set_new(o, "hook_timeout_s", json_real(pl->hook_timeout_s));
	return o;
}

json_t *dtf_plugins_list(struct dtf_plugins *p)
{
	json_t *list = json_array(), *out;
	size_t i, j;

	if (!p)
		return json_pack("{s:o,s:{s:i,s:i,s:i},s:f}", "plugins", list, "queue", "length", 0,
				 "capacity", 0, "dropped", 0, "hook_timeout_s",
				 DTF_PLUGIN_DEFAULT_HOOK_TIMEOUT_S);
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n; i++)
		json_array_append_new(list, plugin_entry(p->v[i]));
	for (j = 0; j < json_array_size(p->others); j++)
		json_array_append_new(list, json_deep_copy(json_array_get(p->others, j)));
	out = json_pack("{s:o,s:{s:I,s:I,s:I,s:I,s:I},s:f}", "plugins", list, "queue", "length",
			(json_int_t)p->qlen, "bytes", (json_int_t)p->qbytes, "capacity",
			(json_int_t)p->qcap, "dropped", (json_int_t)p->dropped, "delivered",
			(json_int_t)p->delivered, "hook_timeout_s", p->hook_timeout_s);
	pthread_mutex_unlock(&p->lock);
	return out;
}

/* ---- unloading ---- */

void dtf_plugins_free(struct dtf_plugins *p)
{
	size_t i;
	bool leaked = false;

	if (!p)
		return;
	plugin_dispatcher_stop(p);
	/* Shut down in reverse order, each within the init budget. */
	for (i = p->n; i-- > 0;) {
		struct dtf_plugin_ctx *pl = p->v[i];
		struct plugin_call *c;
		if (!pl->thread_started) {
			if (pl->exec)
				exec_plugin_stop(pl->exec);
			continue;
		}
		if (!plugin_wait_idle(pl, PLUGIN_STUCK_GRACE_S)) {
			if (pl->exec)
				exec_plugin_kill(pl->exec);
			if (!plugin_wait_idle(pl, 1.0)) {
				log_error("plugin %s is still stuck in a call; it stays loaded",
					  pl->name);
				pl->leak = true;
				leaked = true;
				continue;
			}
		}
		if (!pl->initialized) {
			if (pl->exec)
				exec_plugin_stop(pl->exec);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			continue;
		c->kind = CALL_SHUTDOWN;
		if (plugin_call(pl, c, p->init_timeout_s) == DTF_ETIMEOUT) {
			log_error("plugin %s: shutdown took longer than %.1f s; it stays loaded",
				  pl->name, p->init_timeout_s);
			pl->leak = true;
			leaked = true;
			continue; /* c belongs to its thread */
		}
		free(c);
	}
	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (pl->leak) {
			pthread_detach(pl->thread);
			continue;
		}
		plugin_thread_stop(pl);
		exec_plugin_free(pl->exec);
		if (pl->dl)
			dlclose(pl->dl);
		json_decref(pl->config);
		json_decref(pl->caps);
		free(pl->path);
		free(pl->description);
		strv_free(pl->task_types);
		free(pl);
	}
	if (leaked)
		return; /* the stuck threads still point into p */
	while (p->head) {
		struct plugin_event *ev = p->head;
		p->head = ev->next;
		plugin_event_unref(ev);
	}
	while (p->timers) {
		struct plugin_timer *t = p->timers;
		p->timers = t->next;
		free(t);
	}
	free(p->v);
	json_decref(p->others);
	strv_free(p->task_types);
	free(p->config_dir);
	pthread_cond_destroy(&p->timer_cond);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
