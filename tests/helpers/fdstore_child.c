/* SPDX-License-Identifier: MIT */
/*
 * fdstore_child: stands in for notifyd under `notifyd --keeper`
 * (MOUNTVISOR_KEEPER_EXEC) in tests/integration/notifyd_keeper.sh, and speaks
 * to the keeper through libsystemd, as notifyd does.
 *
 * Everything happens in $FDSTORE_CHILD_DIR:
 *   handed   written at start: what the keeper handed over
 *            ("pid P", "argv ...", "listen_pid ok|bad", "extra N" (open fds
 *            beyond the handed ones), then one line per fd: "NAME KIND INODE
 *            CONTENT" where CONTENT is a memfd's first line, else "-")
 *   starts   one line "PID MS" (CLOCK_REALTIME milliseconds) appended per start
 *   plan     read at start, one command a line, done in order:
 *              store NAME TEXT   a memfd holding TEXT, stored as NAME
 *              many N PREFIX     N memfds stored as PREFIX.0 .. PREFIX.N-1
 *              remove NAME       FDSTOREREMOVE=1 for NAME
 *              peer NAME         one end of a socketpair stored as NAME, the
 *                                other end kept (it closes when we die)
 *              foreign NAME      a forked child stores a memfd NAME (must be refused)
 *              orphan SECS       a child that sleeps SECS then exits; its pid in "orphan"
 *              ready             READY=1
 *              exit N            exit with status N
 *              crash             die by SIGSEGV (no core: not dumpable)
 *   done     "PID" once the plan ran (then it waits; SIGTERM exits 0)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static FILE *open_in_dir(const char *name, const char *mode)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, mode);
}

/* Writes NAME through NAME.tmp and a rename, so a reader never sees half of it. */
static void publish(const char *name, const char *tmpname)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/%s", dir, tmpname);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	if (rename(from, to) < 0)
		perror("fdstore_child: rename");
}

static const char *fd_kind(int fd, char *link, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, size - 1);
	if (n < 0)
		return "closed";
	link[n] = '\0';
	if (strncmp(link, "/memfd:", 7) == 0)
		return "memfd";
	if (strncmp(link, "socket:", 7) == 0)
		return "socket";
	if (strncmp(link, "pipe:", 5) == 0)
		return "pipe";
	return "other";
}

static void report_handed(int argc, char **argv, int n, char **names)
{
	FILE *f = open_in_dir("handed.tmp", "w");
	int extra = 0;

	if (!f)
		exit(90);
	fprintf(f, "pid %d\nargv", (int)getpid());
	for (int i = 1; i < argc; i++)
		fprintf(f, " %s", argv[i]);
	/* sd_listen_fds(1) unset LISTEN_PID: it named us, or there was nothing handed. */
	fprintf(f, "\nlisten_pid %s\n", getenv("LISTEN_PID") ? "bad" : "ok");
	for (int fd = 3 + (n > 0 ? n : 0); fd < 1024; fd++) {
		char link[256];

		/* Not our report file, which fopen() just opened. */
		if (fd != fileno(f) && strcmp(fd_kind(fd, link, sizeof(link)), "closed") != 0)
			extra++;
	}
	fprintf(f, "extra %d\n", extra);
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		char link[256], content[128] = "-";
		const char *kind = fd_kind(fd, link, sizeof(link));
		struct stat st = {0};

		fstat(fd, &st);
		if (strcmp(kind, "memfd") == 0) {
			ssize_t k = pread(fd, content, sizeof(content) - 1, 0);

			content[k > 0 ? k : 0] = '\0';
			content[strcspn(content, "\n ")] = '\0';
		}
		fprintf(f, "%s %s %lu %s\n", names && names[i] ? names[i] : "?", kind,
		        (unsigned long)st.st_ino, content);
	}
	fclose(f);
	publish("handed", "handed.tmp");
}

static void store_memfd(const char *name, const char *text)
{
	char msg[512];
	int fd = memfd_create(name, MFD_CLOEXEC), r;

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		exit(91);
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (r <= 0)
		fprintf(stderr, "fdstore_child: store %s: %s\n", name, strerror(-r));
	close(fd);
}

static void on_term(int sig)
{
	_exit(0);
}

static void run_plan(void)
{
	FILE *f = open_in_dir("plan", "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char cmd[32] = "", a[256] = "", b[256] = "", msg[512];

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%31s %255s %255s", cmd, a, b) < 1)
			continue;
		if (strcmp(cmd, "store") == 0) {
			store_memfd(a, b);
		} else if (strcmp(cmd, "many") == 0) {
			for (int i = 0; i < atoi(a); i++) {
				char name[300];

				snprintf(name, sizeof(name), "%s.%d", b, i);
				store_memfd(name, name);
			}
		} else if (strcmp(cmd, "remove") == 0) {
			snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", a);
			sd_notify(0, msg);
		} else if (strcmp(cmd, "peer") == 0) {
			int sv[2];

			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
				exit(92);
			snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", a);
			sd_pid_notify_with_fds(0, 0, msg, &sv[0], 1);
			close(sv[0]); /* sv[1] stays open until we die */
		} else if (strcmp(cmd, "foreign") == 0) {
			pid_t p = fork();

			if (p == 0) {
				store_memfd(a, "foreign");
				_exit(0);
			}
			waitpid(p, NULL, 0);
		} else if (strcmp(cmd, "orphan") == 0) {
			pid_t p = fork();
			FILE *o;

			if (p == 0) {
				sleep((unsigned)atoi(a));
				_exit(0);
			}
			o = open_in_dir("orphan", "w");
			if (o) {
				fprintf(o, "%d\n", (int)p);
				fclose(o);
			}
		} else if (strcmp(cmd, "ready") == 0) {
			sd_notify(0, "READY=1\nSTATUS=serving");
		} else if (strcmp(cmd, "exit") == 0) {
			exit(atoi(a));
		} else if (strcmp(cmd, "crash") == 0) {
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
			signal(SIGSEGV, SIG_DFL); /* ASan's handler would report and abort */
			raise(SIGSEGV);
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	char **names = NULL;
	struct timespec ts;
	FILE *f;
	int n;

	dir = getenv("FDSTORE_CHILD_DIR");
	if (!dir)
		return 89;
	signal(SIGTERM, on_term);
	n = sd_listen_fds_with_names(1, &names);
	report_handed(argc, argv, n, names);
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	clock_gettime(CLOCK_REALTIME, &ts);
	f = open_in_dir("starts", "a");
	if (f) {
		fprintf(f, "%d %lld\n", (int)getpid(),
		        (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		fclose(f);
	}
	run_plan();
	f = open_in_dir("done.tmp", "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
		publish("done", "done.tmp");
	}
	for (;;)
		pause();
}
