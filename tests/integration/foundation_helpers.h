/* foundation_helpers.h — helpers of the foundation suites (test_foundation_*.c): the stack's
 * processes (the master, its children) and tollgate's JSON log. */
#ifndef TOLLGATE_FOUNDATION_HELPERS_H
#define TOLLGATE_FOUNDATION_HELPERS_H

#include "itest.h"

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MAX_KIDS 256

/* The master's pid from TG_MASTER_PID_FILE; fails the test unless it runs. */
pid_t master_pid(void);
/* The master's children (pgrep -P), sorted; returns how many. */
int children(pid_t master, pid_t out[MAX_KIDS]);
bool pid_in(pid_t p, const pid_t *set, int n);
void format_pids(char *buf, size_t cap, const pid_t *set, int n);

/* The log line (parsed) whose request_id is id, polling the stack's tollgate.log for up to
 * timeout_ms; NULL when there is none. The caller puts the object. */
json_object *log_line_for(const char *id, int timeout_ms);
/* The pid of the worker that served request id (from its log line), or 0. */
pid_t worker_of(const char *id);
/* The pool size the running master was started with (main + password + chat + jobs), from its
 * "master started: …" log line; 0 when not found. */
int configured_children(pid_t master);

/* A login body for an unknown address (static buffer). */
const char *login_body(void);

#endif
