/* log.c — one JSON object per line on stderr; json-c does the escaping. */
#include "tollgate/log.h"

#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

static void add_time(json_object *o)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char buf[40];
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", (long)tv.tv_usec);
	json_object_object_add(o, "time", json_object_new_string(buf));
}

static void emit(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s);
	/* One write per line so lines from concurrent processes do not interleave. */
	char stackbuf[2048];
	if (len + 1 <= sizeof(stackbuf)) {
		memcpy(stackbuf, s, len);
		stackbuf[len] = '\n';
		ssize_t w = write(STDERR_FILENO, stackbuf, len + 1);
		(void)w;
	} else {
		fprintf(stderr, "%s\n", s);
	}
	json_object_put(o);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object *o = json_object_new_object();
	if (!o)
		return;
	add_time(o);
	json_object_object_add(o, "level", json_object_new_string(level_names[lvl]));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "msg", json_object_new_string(msg));
	emit(o);
}

void log_request(const struct log_request *r)
{
	json_object *o = json_object_new_object();
	if (!o)
		return;
	add_time(o);
	json_object_object_add(o, "level", json_object_new_string("info"));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "request_id", json_object_new_string(r->request_id ? r->request_id : ""));
	json_object_object_add(o, "method", json_object_new_string(r->method ? r->method : ""));
	json_object_object_add(o, "path", json_object_new_string(r->path ? r->path : ""));
	json_object_object_add(o, "status", json_object_new_int(r->status));
	json_object_object_add(o, "duration_us", json_object_new_int64(r->duration_us));
	if (r->client_ip)
		json_object_object_add(o, "ip", json_object_new_string(r->client_ip));
	if (r->user_id)
		json_object_object_add(o, "user_id", json_object_new_string(r->user_id));
	if (r->problem)
		json_object_object_add(o, "problem", json_object_new_string(r->problem));
	emit(o);
}
