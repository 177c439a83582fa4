/* test_wstate.c: unit tests for worker/state: the lock, the task records, the sweep that kills
 * what a dead worker left (and only that: a reused pid, a stranger in the group, a record of
 * another boot are left alone), and the guard that does it as soon as the worker dies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "worker/state.h"

#include "proc_helpers.h"
#include "unit_main.h"

/* Starts `sh -c script` as the leader of a new process group with the given environment. */
static pid_t start_leader(const char *script, char *const *envp)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		execle("/bin/sh", "sh", "-c", script, (char *)NULL, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Reads the pid a script wrote to path (waiting up to 5 s for it). */
static long read_pid(const char *path)
{
	char *text = NULL;
	long v = 0;
	int i;

	for (i = 0; i < 500; i++) {
		if (dtf_read_file(path, 64, &text, NULL) == 0 && strchr(text, '\n')) {
			v = strtol(text, NULL, 10);
			free(text);
			return v;
		}
		free(text);
		text = NULL;
		sleep_ms(10);
	}
	fail_msg("no pid in %s", path);
	return 0;
}

static void test_lock(void **state)
{
	char dir[256], err[512];
	struct dtf_wstate a, b, c;

	(void)state;
	make_tmpdir(dir, sizeof(dir), "dtf-wstate");
	assert_int_equal(dtf_wstate_open(&a, dir, "w1", 2, err, sizeof(err)), 0);
	/* A second open of the same id is refused while the first holds the lock... */
	assert_int_equal(dtf_wstate_open(&b, dir, "w1", 2, err, sizeof(err)), DTF_EEXISTS);
	assert_non_null(strstr(err, "another worker with this id"));
	assert_int_equal(b.lock_fd, -1);
	dtf_wstate_close(&b);
	/* ... another id is not... */
	assert_int_equal(dtf_wstate_open(&c, dir, "w2", 1, err, sizeof(err)), 0);
	dtf_wstate_close(&c);
	/* ... and the lock goes with the close. */
	dtf_wstate_close(&a);
	assert_int_equal(dtf_wstate_open(&b, dir, "w1", 2, err, sizeof(err)), 0);
	dtf_wstate_close(&b);
	dtf_rmtree(dir);
}

/* The kept token: saved private (0600) and read back by the next run; a file others may read is
 * ignored, as is a token when no state is kept. */
static void test_token(void **state)
{
	char dir[256], err[512], tok[64], path[600];
	struct dtf_wstate s, none;
	struct stat st;

	(void)state;
	make_tmpdir(dir, sizeof(dir), "dtf-wstate");
	assert_int_equal(dtf_wstate_open(&s, dir, "w1", 1, err, sizeof(err)), 0);
	assert_int_equal(dtf_wstate_token_load(&s, tok, sizeof(tok)), DTF_ENOTFOUND);
	assert_string_equal(tok, "");
	assert_int_equal(dtf_wstate_token_save(&s, "aaa.bbb.ccc"), 0);
	assert_int_equal(dtf_wstate_token_save(&s, "ddd.eee.fff"), 0);
	snprintf(path, sizeof(path), "%s/.worker-w1.token", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	dtf_wstate_close(&s);
	assert_int_equal(dtf_wstate_open(&s, dir, "w1", 1, err, sizeof(err)), 0);
	assert_int_equal(dtf_wstate_token_load(&s, tok, sizeof(tok)), 0);
	assert_string_equal(tok, "ddd.eee.fff");
	/* Too long for the buffer, or readable by others: not used. */
	assert_int_equal(dtf_wstate_token_load(&s, tok, 8), DTF_ENOTFOUND);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(dtf_wstate_token_load(&s, tok, sizeof(tok)), DTF_ENOTFOUND);
	dtf_wstate_close(&s);
	memset(&none, 0, sizeof(none));
	none.lock_fd = -1;
	assert_int_equal(dtf_wstate_token_save(&none, "x"), 0);
	assert_int_equal(dtf_wstate_token_load(&none, tok, sizeof(tok)), DTF_ENOTFOUND);
	dtf_rmtree(dir);
}

/* A recorded leader still alive: its whole group is killed and the task reported. A slot that
 * ended its task is not. */
static void test_sweep_live_group(void **state)
{
	char dir[256], err[512], pidfile[300], script[400];
	char *const envp[] = {"PATH=/usr/bin:/bin", "DTF_TASK_ID=t-live", "DTF_ATTEMPT=1", NULL};
	struct dtf_wstate s;
	struct dtf_wstate_task *tasks = NULL;
	size_t n = 0;
	pid_t leader, other;
	long member;

	(void)state;
	make_tmpdir(dir, sizeof(dir), "dtf-wstate");
	snprintf(pidfile, sizeof(pidfile), "%s/member", dir);
	snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; wait", pidfile);
	assert_int_equal(dtf_wstate_open(&s, dir, "w", 2, err, sizeof(err)), 0);
	leader = start_leader(script, envp);
	dtf_wstate_task_started(&s, 0, "t-live", 1, leader);
	other = start_leader("exit 0", envp);
	dtf_wstate_task_started(&s, 1, "t-done", 1, other);
	assert_int_equal(waitpid(other, NULL, 0), other);
	dtf_wstate_task_ended(&s, 1);
	member = read_pid(pidfile);
	/* The worker "dies" (its state is closed without the tasks ending); the next start. */
	dtf_wstate_close(&s);
	assert_int_equal(dtf_wstate_open(&s, dir, "w", 2, err, sizeof(err)), 0);
	assert_int_equal(dtf_wstate_sweep(&s, &tasks, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tasks[0].task_id, "t-live");
	assert_int_equal(tasks[0].attempt, 1);
	assert_int_equal(tasks[0].pgid, leader);
	assert_true(tasks[0].killed >= 2);
	assert_false(tasks[0].other_boot);
	free(tasks);
	assert_int_equal(waitpid(leader, NULL, 0), leader);
	assert_true(pid_gone_within(member, 2000));
	/* The records are cleared: a second sweep finds nothing. */
	assert_int_equal(dtf_wstate_sweep(&s, &tasks, &n), 0);
	assert_int_equal(n, 0);
	free(tasks);
	dtf_wstate_close(&s);
	dtf_rmtree(dir);
}

/* The leader is gone: a process of its group is killed only if its environment names the task
 * and attempt. A record whose pid now has another start time, or that was written in another
 * boot, kills nothing. */
static void test_sweep_identity(void **state)
{
	char dir[256], err[512], pidfile[300], strangerfile[300], script[700];
	char *const envp[] = {"PATH=/usr/bin:/bin", "DTF_TASK_ID=t-id", "DTF_ATTEMPT=2", NULL};
	char *const plain[] = {"PATH=/usr/bin:/bin", NULL};
	struct dtf_wstate s;
	struct dtf_wstate_task *tasks = NULL;
	size_t n = 0;
	pid_t leader, reused, oldboot;
	long member, stranger;
	uint64_t wrong = 1;
	int fd;

	(void)state;
	make_tmpdir(dir, sizeof(dir), "dtf-wstate");
	snprintf(pidfile, sizeof(pidfile), "%s/member", dir);
	snprintf(strangerfile, sizeof(strangerfile), "%s/stranger", dir);
	/* The leader starts a task process and a stranger (no dtf variables) in its group, then
	 * ends, as PR_SET_PDEATHSIG would end it. */
	snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; env -i sleep 61 & echo $! > %s",
		 pidfile, strangerfile);
	assert_int_equal(dtf_wstate_open(&s, dir, "w", 3, err, sizeof(err)), 0);
	leader = start_leader(script, envp);
	dtf_wstate_task_started(&s, 0, "t-id", 2, leader);
	member = read_pid(pidfile);
	stranger = read_pid(strangerfile);
	assert_int_equal(waitpid(leader, NULL, 0), leader);
	/* A live process, not the task's, whose pid the record names with another start time: the
	 * task's pid was reused. */
	reused = start_leader("sleep 60", plain);
	dtf_wstate_task_started(&s, 1, "t-id", 2, reused);
	fd = open(s.tasks_path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &wrong, sizeof(wrong), 128 + 8), (ssize_t)sizeof(wrong));
	/* A record of another boot. */
	oldboot = start_leader("sleep 60", envp);
	dtf_wstate_task_started(&s, 2, "t-old", 1, oldboot);
	assert_int_equal(pwrite(fd, "another-boot", 13, 2 * 128 + 24), 13);
	close(fd);
	dtf_wstate_close(&s);

	assert_int_equal(dtf_wstate_open(&s, dir, "w", 3, err, sizeof(err)), 0);
	assert_int_equal(dtf_wstate_sweep(&s, &tasks, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tasks[i].task_id, "t-old") == 0) {
			assert_true(tasks[i].other_boot);
			assert_int_equal(tasks[i].killed, 0);
		} else if (tasks[i].pgid == leader) {
			assert_int_equal(tasks[i].killed, 1);
		} else {
			assert_int_equal(tasks[i].pgid, reused);
			assert_int_equal(tasks[i].killed, 0);
		}
	}
	free(tasks);
	dtf_wstate_close(&s);
	assert_true(pid_gone_within(member, 2000));
	assert_false(pid_gone_within(stranger, 200));
	assert_int_equal(waitpid(reused, NULL, WNOHANG), 0);
	assert_int_equal(waitpid(oldboot, NULL, WNOHANG), 0);
	kill((pid_t)stranger, SIGKILL);
	/* Their groups: sh -c does not exec its last command, its sleep is a child. */
	kill(-reused, SIGKILL);
	kill(-oldboot, SIGKILL);
	waitpid(reused, NULL, 0);
	waitpid(oldboot, NULL, 0);
	dtf_rmtree(dir);
}

/* The guard kills a recorded group as soon as the worker dies, SIGKILL included. */
static void test_guard(void **state)
{
	char dir[256], err[512], pidfile[300], script[400];
	char *const envp[] = {"PATH=/usr/bin:/bin", "DTF_TASK_ID=t-g", "DTF_ATTEMPT=1", NULL};
	int p[2];
	pid_t worker;
	long leader = 0, member;

	(void)state;
	make_tmpdir(dir, sizeof(dir), "dtf-wstate");
	snprintf(pidfile, sizeof(pidfile), "%s/member", dir);
	snprintf(script, sizeof(script), "sleep 60 & echo $! > %s; wait", pidfile);
	assert_int_equal(pipe(p), 0);
	worker = fork();
	assert_true(worker >= 0);
	if (worker == 0) {
		struct dtf_wstate s;
		pid_t l;

		close(p[0]);
		if (dtf_wstate_open(&s, dir, "w", 1, err, sizeof(err)) || dtf_wstate_guard(&s))
			_exit(2);
		l = start_leader(script, envp);
		dtf_wstate_task_started(&s, 0, "t-g", 1, l);
		leader = l;
		if (write(p[1], &leader, sizeof(leader)) != (ssize_t)sizeof(leader))
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &leader, sizeof(leader)), (ssize_t)sizeof(leader));
	close(p[0]);
	member = read_pid(pidfile);
	kill(worker, SIGKILL);
	assert_int_equal(waitpid(worker, NULL, 0), worker);
	if (!pid_gone_within(member, 3000) || !pid_gone_within(leader, 3000)) {
		kill((pid_t)member, SIGKILL);
		kill((pid_t)leader, SIGKILL);
		fail_msg("the guard did not kill the task's group after the worker's SIGKILL");
	}
	dtf_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lock),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_sweep_live_group),
	    cmocka_unit_test(test_sweep_identity),
	    cmocka_unit_test(test_guard),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
