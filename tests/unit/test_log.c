/* test_log.c — level parsing and the JSON lines written to stderr. */
#include "unit.h"

#include <errno.h>
#include <json.h>
#include <unistd.h>

#include "tollgate/log.h"

/* ---- capturing stderr ---- */

static int cap_pipe[2] = {-1, -1};
static int saved_stderr = -1;

static void capture_begin(void)
{
	fflush(stderr);
	ck_assert_int_eq(pipe(cap_pipe), 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(cap_pipe[1], STDERR_FILENO), STDERR_FILENO);
	close(cap_pipe[1]);
	cap_pipe[1] = -1;
}

/* Restores stderr and returns what was written (malloc'ed; caller frees). Stay below the
 * pipe's capacity (64 KiB): nothing reads while the test writes. */
static char *capture_end(size_t *len)
{
	fflush(stderr);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t r = read(cap_pipe[0], buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(cap_pipe[0]);
	cap_pipe[0] = -1;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Parses one captured line (which must be exactly one '\n'-terminated line) as a JSON object. */
static json_object *parse_line(const char *out)
{
	size_t len = strlen(out);
	ck_assert_msg(len > 0 && out[len - 1] == '\n', "not a terminated line: %s", out);
	ck_assert_msg(count_lines(out) == 1, "expected one line, got: %s", out);
	json_tokener *tok = json_tokener_new();
	ck_assert_ptr_nonnull(tok);
	json_object *o = json_tokener_parse_ex(tok, out, (int)(len - 1));
	ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success, "not JSON: %s", out);
	ck_assert_uint_eq(json_tokener_get_parse_end(tok), len - 1);
	json_tokener_free(tok);
	ck_assert_msg(json_object_is_type(o, json_type_object), "not an object: %s", out);
	return o;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing %s", key);
	ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string", key);
	return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing %s", key);
	ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer", key);
	return json_object_get_int64(v);
}

static bool has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* "2026-11-29T13:42:50.123456Z" */
static void assert_time_shape(const char *t)
{
	ck_assert_uint_eq(strlen(t), 27);
	const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	for (size_t i = 0; i < 27; i++) {
		if (shape[i] == 'd')
			ck_assert_msg(t[i] >= '0' && t[i] <= '9', "time %s", t);
		else
			ck_assert_msg(t[i] == shape[i], "time %s", t);
	}
}

static void setup(void)
{
	log_set_level(LOG_INFO);
}

static void teardown(void)
{
	if (saved_stderr >= 0) { /* a failed assertion left stderr redirected */
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	if (cap_pipe[0] >= 0)
		close(cap_pipe[0]);
	cap_pipe[0] = -1;
	log_set_level(LOG_INFO);
}

/* ---- tests ---- */

START_TEST(test_parse_level)
{
	static const struct {
		const char *s;
		enum log_level l;
	} v[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum log_level l = (enum log_level)99;
		ck_assert_int_eq(log_parse_level(v[i].s, &l), 0);
		ck_assert_int_eq(l, v[i].l);
	}
	static const char *const bad[] = {"", "INFO", "Info", "warning", "err", "info ", " info", "trace", "fatal"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum log_level l = LOG_ERROR;
		ck_assert_msg(log_parse_level(bad[i], &l) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(l, LOG_ERROR);
	}
}
END_TEST

START_TEST(test_msg_is_one_json_line)
{
	capture_begin();
	log_info("worker %d started on %s", 3, "main");
	char *out = capture_end(NULL);
	json_object *o = parse_line(out);
	ck_assert_str_eq(get_str(o, "level"), "info");
	ck_assert_str_eq(get_str(o, "msg"), "worker 3 started on main");
	ck_assert_int_eq(get_int(o, "pid"), getpid());
	assert_time_shape(get_str(o, "time"));
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_msg_levels_filter)
{
	log_set_level(LOG_WARN);
	capture_begin();
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	char *out = capture_end(NULL);
	ck_assert_uint_eq(count_lines(out), 2);
	char *nl = strchr(out, '\n');
	*nl = '\0';
	char first[4096];
	snprintf(first, sizeof(first), "%s\n", out);
	json_object *a = parse_line(first);
	json_object *b = parse_line(nl + 1);
	ck_assert_str_eq(get_str(a, "level"), "warn");
	ck_assert_str_eq(get_str(a, "msg"), "w");
	ck_assert_str_eq(get_str(b, "level"), "error");
	ck_assert_str_eq(get_str(b, "msg"), "e");
	json_object_put(a);
	json_object_put(b);
	free(out);

	log_set_level(LOG_DEBUG);
	capture_begin();
	log_debug("now visible");
	out = capture_end(NULL);
	a = parse_line(out);
	ck_assert_str_eq(get_str(a, "level"), "debug");
	json_object_put(a);
	free(out);
}
END_TEST

START_TEST(test_msg_escapes_control_characters)
{
	capture_begin();
	log_warn("a \"quoted\"\nsecond line\r\t\x01 back\\slash /path");
	char *out = capture_end(NULL);
	json_object *o = parse_line(out); /* still exactly one line */
	ck_assert_str_eq(get_str(o, "msg"), "a \"quoted\"\nsecond line\r\t\x01 back\\slash /path");
	ck_assert_ptr_nonnull(strstr(out, " /path")); /* slashes are not escaped */
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_msg_long_is_truncated_not_split)
{
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_begin();
	log_error("%s", big);
	char *out = capture_end(NULL);
	json_object *o = parse_line(out);
	const char *msg = get_str(o, "msg");
	ck_assert_uint_gt(strlen(msg), 500);
	ck_assert_uint_le(strlen(msg), sizeof(big) - 1);
	ck_assert_uint_eq(strspn(msg, "x"), strlen(msg));
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_request_line_fields)
{
	struct log_request r = {
		.request_id = "7f3a9c", .method = "POST", .path = "/api/auth/login",
		.user_id = "0b9d2f4e-6a1c-4c0e-9a53-2b8f1d7e6c11", .client_ip = "203.0.113.7",
		.problem = "invalid_credentials", .status = 401, .duration_us = 1234567,
	};
	capture_begin();
	log_request(&r);
	char *out = capture_end(NULL);
	json_object *o = parse_line(out);
	ck_assert_str_eq(get_str(o, "level"), "info");
	ck_assert_int_eq(get_int(o, "pid"), getpid());
	assert_time_shape(get_str(o, "time"));
	ck_assert_str_eq(get_str(o, "request_id"), "7f3a9c");
	ck_assert_str_eq(get_str(o, "method"), "POST");
	ck_assert_str_eq(get_str(o, "path"), "/api/auth/login");
	ck_assert_int_eq(get_int(o, "status"), 401);
	ck_assert_int_eq(get_int(o, "duration_us"), 1234567);
	ck_assert_str_eq(get_str(o, "ip"), "203.0.113.7");
	ck_assert_str_eq(get_str(o, "user_id"), "0b9d2f4e-6a1c-4c0e-9a53-2b8f1d7e6c11");
	ck_assert_str_eq(get_str(o, "problem"), "invalid_credentials");
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_request_line_optional_fields)
{
	struct log_request r = {.status = 200, .duration_us = 5};
	capture_begin();
	log_request(&r);
	char *out = capture_end(NULL);
	json_object *o = parse_line(out);
	ck_assert_str_eq(get_str(o, "request_id"), "");
	ck_assert_str_eq(get_str(o, "method"), "");
	ck_assert_str_eq(get_str(o, "path"), "");
	ck_assert_int_eq(get_int(o, "status"), 200);
	ck_assert(!has(o, "user_id"));
	ck_assert(!has(o, "problem"));
	ck_assert(!has(o, "ip"));
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_request_line_not_filtered_by_level)
{
	/* the access line is the record of the request: it is written at any level */
	log_set_level(LOG_ERROR);
	struct log_request r = {.request_id = "x", .method = "GET", .path = "/api/health", .status = 200};
	capture_begin();
	log_request(&r);
	char *out = capture_end(NULL);
	json_object *o = parse_line(out);
	ck_assert_str_eq(get_str(o, "path"), "/api/health");
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_request_line_hostile_path)
{
	/* a raw client path must not forge a second log line */
	char path[5000];
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "/api/x\n{\"level\":\"error\"}\r\n\"", 27);
	struct log_request r = {.request_id = "r1", .method = "GET", .path = path, .status = 404};
	capture_begin();
	log_request(&r);
	char *out = capture_end(NULL);
	json_object *o = parse_line(out); /* one line, even beyond the 2 KiB fast path */
	ck_assert_str_eq(get_str(o, "path"), path);
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(test_one_line_per_call)
{
	capture_begin();
	for (int i = 0; i < 20; i++)
		log_info("line %d", i);
	char *out = capture_end(NULL);
	ck_assert_uint_eq(count_lines(out), 20);
	char *p = out;
	for (int i = 0; i < 20; i++) {
		char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		char line[2048];
		size_t n = (size_t)(nl - p) + 1;
		ck_assert_uint_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		json_object *o = parse_line(line);
		char want[16];
		snprintf(want, sizeof(want), "line %d", i);
		ck_assert_str_eq(get_str(o, "msg"), want);
		json_object_put(o);
		p = nl + 1;
	}
	free(out);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_level);
	tcase_add_test(tc, test_msg_is_one_json_line);
	tcase_add_test(tc, test_msg_levels_filter);
	tcase_add_test(tc, test_msg_escapes_control_characters);
	tcase_add_test(tc, test_msg_long_is_truncated_not_split);
	tcase_add_test(tc, test_request_line_fields);
	tcase_add_test(tc, test_request_line_optional_fields);
	tcase_add_test(tc, test_request_line_not_filtered_by_level);
	tcase_add_test(tc, test_request_line_hostile_path);
	tcase_add_test(tc, test_one_line_per_call);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(log_suite)
