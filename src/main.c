/* main.c: dtf's entry point: the subcommand table (one file per command under src/cli/). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "plugin/cli.h"

static const struct cli_command commands[] = {
    {"coordinator", cmd_coordinator, "run the coordinator (the server)"},
    {"worker", cmd_worker, "run a worker that executes tasks"},
    {"client", cmd_client, "submit tasks, wait, export results, inspect"},
    {"submit-task", cmd_submit_task, "submit a task file (same as client submit-task)"},
    {"run", cmd_run, "run a test suite on this machine (coordinator + local workers)"},
    {"ci", cmd_ci, "run the tests in a CI job and report to the CI provider"},
    {"bench", cmd_bench, "measure a coordinator's throughput and lease latency"},
    {"plugins", cmd_plugins, "list the plugins a configuration or a coordinator loads"},
    {"simulate", cmd_simulate, "run the scheduler against simulated workers in virtual time"},
    {"notify", cmd_notify, "send a sample message to a configured channel (Slack, Teams, ...)"},
    {"keys", cmd_keys, "add, revoke and list API keys; revoke a worker (docs/auth.md)"},
    {"slurm", cmd_slurm, "start workers as a Slurm job array; list and stop them"},
    {"k8s", cmd_k8s, "print a Kubernetes manifest that runs workers (docs/deploy.md)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	const struct cli_command *c;

	fprintf(f, "usage: dtf <command> [options]\n\ncommands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-13s %s\n", c->name, c->help);
	fprintf(f, "\nRun 'dtf <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	const struct cli_command *c;

	signal(SIGPIPE, SIG_IGN);
	/* The server threads' heaps grow and shrink by small steps as requests come and go (an
	 * mprotect, and TLB shootdowns on every thread, each time): grow them in larger steps and
	 * keep what was freed. Setting these turns off glibc's sliding mmap threshold, which would
	 * otherwise have risen past the request bodies and replies of a few hundred KiB (a batch
	 * of tasks): without a threshold of its own each of those would be mmapped, faulted in page
	 * by page and unmapped again. */
	mallopt(M_TOP_PAD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("dtf 0.1.0 (protocol 1)\n");
		return 0;
	}
	for (c = commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0) {
			dtf_log_setup(c->name, DTF_LOG_INFO);
			return c->fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "dtf: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
