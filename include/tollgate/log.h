/* log.h — structured JSON log lines on stderr, one per event. Never pass a secret. */
#ifndef TOLLGATE_LOG_H
#define TOLLGATE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
int log_parse_level(const char *s, enum log_level *out);
/* {"time":…,"level":…,"pid":…,"msg":…} — msg is printf-formatted. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct log_request {
	const char *request_id, *method, *path, *user_id, *client_ip, *problem;
	int status;
	long long duration_us;
};
/* The access line: one per request. */
void log_request(const struct log_request *r);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
