/* config.h: declarative option tables (modelled on Redis's static_configs[]). A command declares
 * each of its options once, as one struct dtf_opt in a table; this engine builds getopt_long's
 * array from the table, reads the YAML keys, the environment and the defaults into the command's
 * options struct, checks types and ranges with messages that name the flag or key, and prints
 * --help and the markdown table of docs/configuration.md.
 *
 * Precedence is explicit: every entry remembers where its value came from (enum dtf_opt_src),
 * and a source only replaces a value from a weaker one: flag > environment > YAML > default.
 * Lists are the exception: every source adds to them (--api-key, api_keys and DTF_API_KEYS are
 * all accepted at once). There is no "unset" value: 0 is a value like any other, and an option
 * that nobody set takes the table's default. */
#ifndef DTF_CONFIG_H
#define DTF_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum dtf_opt_type {
	DTF_OPT_BOOL,	 /* bool; its flag takes no argument and sets it */
	DTF_OPT_INT,	 /* int */
	DTF_OPT_UINT,	 /* unsigned */
	DTF_OPT_SIZE,	 /* size_t (byte counts) */
	DTF_OPT_SECONDS, /* double; flags take dtf_parse_seconds' forms (1.5, 30s, 2m, 1h) */
	DTF_OPT_STRING, /* const char *, borrowed from argv, the environment or the YAML document */
	DTF_OPT_ENUM,	/* const char *, one of the entry's values[] */
	DTF_OPT_LIST,	/* const char *const *, NULL-terminated, or NULL when empty */
	DTF_OPT_CUSTOM, /* the entry's parse hook stores it (flags only) */
};

/* Where a value came from, weakest first. */
enum dtf_opt_src { DTF_SRC_UNSET, DTF_SRC_DEFAULT, DTF_SRC_YAML, DTF_SRC_ENV, DTF_SRC_FLAG };

/* Entry flags. */
#define DTF_OPTF_HIDDEN		0x1 /* left out of --help and of the doc table */
#define DTF_OPTF_MIN_EXCLUSIVE	0x2 /* the value must be greater than min, not equal to it */
#define DTF_OPTF_YAML_ELSEWHERE 0x4 /* the YAML key is read by another part (shown in the doc) */
#define DTF_OPTF_ENV_SPLIT	0x8 /* a list's environment variable holds comma-separated items */

struct dtf_opt {
	const char *flag;  /* long flag without "--", or NULL when the option has none */
	int short_flag;	   /* its one-letter form, or 0 */
	const char *alias; /* a second long flag with the same meaning, or NULL */
	const char *yaml;  /* dotted key as the YAML file spells it ("coordinator.port"), or NULL */
	const char *env;   /* environment variable, or NULL */
	const char *env_alt; /* read when env is unset or empty, or NULL */
	enum dtf_opt_type type;
	size_t offset;	 /* of the value in the command's options struct (offsetof) */
	double min, max; /* numbers: the range, both ends included; lists: max items (0: any) */
	const char *def; /* the default as a flag would spell it; NULL: none (zero or NULL) */
	const char *const *values; /* DTF_OPT_ENUM: the accepted values, NULL-terminated */
	const char *arg;  /* the argument's name in --help ("N", "S", "F"), NULL for booleans */
	const char *help; /* one line, for --help and the doc table */
	unsigned flags;	  /* DTF_OPTF_* */
	/* DTF_OPT_CUSTOM: parses text into the field at base + offset; 0, or a negative DTF_E*
	 * code with a reason in err (the engine names the flag before it). */
	int (*parse)(void *field, const char *text, char *err, size_t errlen);
};

/* One command's table being applied to its options struct. */
struct dtf_config {
	const char *cmd;	    /* "dtf coordinator", the prefix of messages */
	const struct dtf_opt *opts; /* borrowed table */
	size_t n;
	void *base;	       /* borrowed options struct the entries' offsets point into */
	enum dtf_opt_src *src; /* owned: where each entry's value came from (the "was set" bit) */
	struct dtf_config_list *lists; /* owned: the items of each list entry */
	char **owned;		       /* owned strings (copies of split environment values) */
	size_t nowned, owned_cap;
	char err[2048]; /* the messages of the last failed call, one per line */
};

/* Prepares cfg to fill base from opts[0..n-1]. base is left as it is until values are set.
 * Returns 0 or DTF_ENOMEM. Release with dtf_config_release() whatever it returns. */
int dtf_config_init(struct dtf_config *cfg, const char *cmd, const struct dtf_opt *opts, size_t n,
		    void *base);
/* Frees what cfg owns; the lists stored in base point into it and are gone too. */
void dtf_config_release(struct dtf_config *cfg);

/* Reads the flags in argv[1..argc-1] with getopt_long; *first_arg is set to the index of the first
 * argument that is not an option. Returns 0, or DTF_EINVAL with the reasons in cfg->err (empty
 * when getopt has printed its own message about an unknown flag). */
int dtf_config_parse_args(struct dtf_config *cfg, int argc, char **argv, int *first_arg);
/* Reads the keys of the YAML document doc under section (the keys may also sit at the top level
 * when the document has no such section, as dtf's files always allowed). Keys listed in others
 * belong to other parts and are skipped; any other key is an error. path, text and len name the
 * file and find the line of a key for messages. The document must outlive cfg's use of it: string
 * values are borrowed. Returns 0 or DTF_EINVAL with every reason in cfg->err. */
int dtf_config_load_yaml(struct dtf_config *cfg, const json_t *doc, const char *section,
			 const char *const *others, const char *path, const char *text, size_t len);
/* Reads the entries' environment variables (empty ones count as unset). 0 or DTF_EINVAL. */
int dtf_config_load_env(struct dtf_config *cfg);
/* Gives every entry nobody set its default and stores the lists. 0 or DTF_EINVAL. */
int dtf_config_finish(struct dtf_config *cfg);

/* Sets entry i from text as source src would (lower sources than the current one are ignored,
 * lists add). Returns 0 or DTF_EINVAL with the reason in cfg->err. */
int dtf_config_set(struct dtf_config *cfg, size_t i, enum dtf_opt_src src, const char *text);
/* The index of the entry with long flag or YAML key name, or -1. */
int dtf_config_find(const struct dtf_config *cfg, const char *name);
/* Where entry i's value came from. */
enum dtf_opt_src dtf_config_source(const struct dtf_config *cfg, size_t i);

/* Writes "usage: <cmd> [options]" and one line per visible entry (wrapped at 100 columns). */
void dtf_config_usage(const struct dtf_opt *opts, size_t n, const char *cmd, FILE *f);
/* Writes the markdown table of the entries for docs/configuration.md. */
void dtf_config_doc(const struct dtf_opt *opts, size_t n, FILE *f);

#endif
