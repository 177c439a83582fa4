/* proc.h: running a program to its end with its input, a timeout and capped output (the exec
 * plugins, task processors and the notification channel of type exec use it). Below the core:
 * it includes only common/ and the plugin ABI's result struct. */
#ifndef DTF_PLUGIN_PROC_H
#define DTF_PLUGIN_PROC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dtf/plugin.h"

struct plugin_proc_spec {
	const char *const *argv;
	const char *const *envp; /* NULL: dtf's environment */
	const char *cwd;	 /* NULL: dtf's directory */
	const char *input;	 /* written to stdin, then closed; NULL: empty stdin */
	size_t input_len;
	double timeout_s;    /* 0: none */
	size_t output_cap;   /* the last output_cap bytes of each stream are kept */
	atomic_int *cancel;  /* may be NULL */
	int64_t deadline_ms; /* monotonic; 0: none */
};

/* Runs a program to its end. 0 when it ran, DTF_ESPAWN (err says why) when it did not start.
 * res is always filled (res->struct_size is set here). */
int plugin_proc_run(const struct plugin_proc_spec *s, struct dtf_process_result *res, char *err,
		    size_t errlen);
void plugin_proc_result_release(struct dtf_process_result *res);
/* Starts a long-running program in its own process group, its stdin a pipe (*stdin_fd, the
 * write end, close-on-exec) and its stdout and stderr dtf's stderr. */
int plugin_proc_spawn(const char *const *argv, const char *const *envp, const char *cwd, pid_t *pid,
		      int *stdin_fd, char *err, size_t errlen);
/* True if pid has exited (reaped; *status gets its wait status). */
bool plugin_proc_exited(pid_t pid, int *status);
/* Stops a process group: SIGTERM, then SIGKILL after grace_s; reaps the leader. */
void plugin_proc_stop(pid_t pid, double grace_s);
/* Describes a wait status ("exit code 3", "signal 9"). */
void plugin_proc_describe(int status, char *out, size_t len);
/* Writes all of buf to fd, without SIGPIPE killing the process. 0 or DTF_EIO (errno kept). */
int plugin_write_all(int fd, const char *buf, size_t len);
/* Finds a program: a path with a slash is taken as is (relative to base_dir when not absolute),
 * a bare name is looked up in PATH. Returns a new string or NULL. */
char *plugin_find_program(const char *prog, const char *base_dir);

#endif
