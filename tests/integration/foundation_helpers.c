/* foundation_helpers.c — see foundation_helpers.h. */
#include "foundation_helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t master_pid(void)
{
	const char *file = getenv("TG_MASTER_PID_FILE");
	ck_assert_msg(file && *file, "TG_MASTER_PID_FILE is not set (source DIR/stack.env)");
	FILE *f = fopen(file, "r");
	ck_assert_msg(f != NULL, "cannot open %s: %s", file, strerror(errno));
	long pid = 0;
	int n = fscanf(f, "%ld", &pid);
	fclose(f);
	ck_assert_msg(n == 1 && pid > 1, "no pid in %s", file);
	ck_assert_msg(kill((pid_t)pid, 0) == 0, "master %ld from %s is not running", pid, file);
	return (pid_t)pid;
}

/* The master's children (pgrep -P), sorted; returns how many. */
int children(pid_t master, pid_t out[MAX_KIDS])
{
	const char *s = it_sh_out("pgrep -P %d", (int)master);
	int n = 0;
	while (*s && n < MAX_KIDS) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		out[n++] = (pid_t)v;
		s = end;
		while (*s == '\n' || *s == ' ')
			s++;
	}
	for (int i = 1; i < n; i++) /* insertion sort: a handful of pids */
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			pid_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

bool pid_in(pid_t p, const pid_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == p)
			return true;
	return false;
}

void format_pids(char *buf, size_t cap, const pid_t *set, int n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && o + 12 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? " " : "", (int)set[i]);
}

/* The log line (parsed) whose request_id is id, polling the stack's tollgate.log for up to
 * timeout_ms; NULL when there is none. The caller puts the object. */
json_object *log_line_for(const char *id, int timeout_ms)
{
	char path[1024];
	const char *lf = getenv("TG_LOG_FILE");
	if (lf && *lf)
		snprintf(path, sizeof(path), "%s", lf);
	else
		snprintf(path, sizeof(path), "%s/tollgate.log", it_stack_dir());
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f) {
			char *line = NULL;
			size_t cap = 0;
			ssize_t len;
			while ((len = getline(&line, &cap, f)) > 0) {
				if (!strstr(line, id))
					continue;
				json_object *o = json_tokener_parse(line);
				json_object *v;
				if (o && json_object_object_get_ex(o, "request_id", &v) &&
				    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), id)) {
					free(line);
					fclose(f);
					return o;
				}
				json_object_put(o);
			}
			free(line);
			fclose(f);
		}
		if (it_now_ms() > deadline)
			return NULL;
		it_sleep_ms(100);
	}
}

/* The pid of the worker that served request id (from its log line), or 0. */
pid_t worker_of(const char *id)
{
	json_object *o = log_line_for(id, 3000);
	if (!o)
		return 0;
	json_object *v;
	pid_t pid = json_object_object_get_ex(o, "pid", &v) ? (pid_t)json_object_get_int(v) : 0;
	json_object_put(o);
	return pid;
}

/* The pool size the running master was started with (main + password + chat + jobs), from its
 * "master started: main pool N …, password pool N …, chat pool N …, jobs N" log line (a master
 * without a chat pool logs none); 0 when not found. */
int configured_children(pid_t master)
{
	char path[1024];
	const char *lf = getenv("TG_LOG_FILE");
	if (lf && *lf)
		snprintf(path, sizeof(path), "%s", lf);
	else
		snprintf(path, sizeof(path), "%s/tollgate.log", it_stack_dir());
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char pidkey[32];
	snprintf(pidkey, sizeof(pidkey), "\"pid\":%d,", (int)master);
	int total = 0;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, pidkey))
			continue;
		const char *m = strstr(line, "master started: main pool ");
		if (!m)
			continue;
		int main_n = 0, pw = 0, chat = 0, jobs = 0;
		const char *p2 = strstr(m, "password pool ");
		const char *c = strstr(m, "chat pool ");
		const char *j = strstr(m, ", jobs ");
		if (c && sscanf(c, "chat pool %d", &chat) != 1)
			chat = 0;
		if (sscanf(m, "master started: main pool %d", &main_n) == 1 && p2 &&
		    sscanf(p2, "password pool %d", &pw) == 1 && c && sscanf(c, "chat pool %d", &chat) == 1 && j &&
		    sscanf(j, ", jobs %d", &jobs) == 1)
			total = main_n + pw + chat + jobs; /* the last start line of this pid wins */
	}
	free(line);
	fclose(f);
	return total;
}

const char *login_body(void)
{
	static char body[256];
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"not-the-password-1\",\"session\":\"body\"}",
		 it_unique_email("itf-ct"));
	return body;
}
