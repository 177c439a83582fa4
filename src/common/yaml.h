/* yaml.h: reads a YAML configuration file into JSON values (mappings become objects, sequences
 * arrays, plain scalars numbers/booleans/null where they look like one, else strings), with
 * errors that name the file and line. */
#ifndef DTF_YAML_H
#define DTF_YAML_H

#include <jansson.h>
#include <stddef.h>

#define DTF_YAML_MAX_BYTES (4u << 20)

/* Parses text (len bytes; name is used in errors). Returns a new value or NULL with
 * "name:line: reason" in err. Aliases are refused (no billion laughs). */
json_t *dtf_yaml_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
/* Reads and parses a file of at most DTF_YAML_MAX_BYTES. */
json_t *dtf_yaml_load(const char *path, char *err, size_t errlen);
/* The 1-based line of a mapping key in the document last parsed from the same text, for error
 * messages about values ("dtf.yaml:12: key 'port' must be a number"). Returns 0 if unknown. */
int dtf_yaml_key_line(const char *text, size_t len, const char *key);

#endif
