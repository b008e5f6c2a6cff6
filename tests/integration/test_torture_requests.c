/* test_torture_requests.c — the allocation-failure sweep over a short request corpus, run
 * in-process against the stack's real database (TG_CONFIG): for each request and N = 1, 2, …,
 * a forked child sets up a worker (server_app_init: connection, router, area state) and serves the
 * request with its N-th counted allocation failing (src/core/mem.c). mem.h's policy says the child
 * must end with exit status 71 and mem_oom's log line; never a signal, never a sanitizer report.
 * The sweep of a request ends at the first N that the child survives: it must then answer with the
 * status of an undisturbed run, and (leak detection stays on in the child) leak nothing. */
#include "itest.h"

#include "tollgate/app.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/crypto.h"
#include "tollgate/http.h"
#include "tollgate/mem.h"
#include "tollgate/server.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 20000

struct corpus_req {
	const char *method, *path, *body; /* "{n}" in path or body becomes the run number */
	bool bearer;
	bool stripe_signature;
};

static struct tg_config cfg;
static char access_token[1024];

static char *expand(const char *tpl, long n)
{
	if (!tpl)
		return NULL;
	char num[24];
	snprintf(num, sizeof(num), "%ld", n);
	size_t cap = strlen(tpl) + 64;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	for (const char *p = tpl; *p;) {
		if (!strncmp(p, "{n}", 3)) {
			size_t l = strlen(num);
			memcpy(out + o, num, l);
			o += l;
			p += 3;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}

/* Serves one request in this process; returns its status. */
static int serve(struct app *app, const struct corpus_req *cr, long n)
{
	char *path = expand(cr->path, n), *body = expand(cr->body, n);
	char *env[16];
	int ne = 0;
	char *owned[16];
	int no = 0;
#define ENV(...)                                                  \
	do {                                                      \
		char *e_ = NULL;                                  \
		ck_assert_int_ge(asprintf(&e_, __VA_ARGS__), 0); \
		env[ne++] = owned[no++] = e_;                     \
	} while (0)
	ENV("REQUEST_METHOD=%s", cr->method);
	ENV("REQUEST_URI=%s", path);
	ENV("REMOTE_ADDR=127.0.0.9");
	ENV("HTTP_USER_AGENT=torture/1 \xff\xfe");
	if (body) {
		ENV("CONTENT_TYPE=application/json");
		ENV("CONTENT_LENGTH=%zu", strlen(body));
	}
	if (cr->bearer)
		ENV("HTTP_AUTHORIZATION=Bearer %s", access_token);
	if (cr->stripe_signature) {
		const char *secret = getenv("TG_STRIPE_WEBHOOK_SECRET");
		ck_assert_ptr_nonnull(secret);
		long t = (long)time(NULL);
		char *signed_text = NULL;
		ck_assert_int_ge(asprintf(&signed_text, "%ld.%s", t, body), 0);
		unsigned char mac[CRYPTO_SHA256_LEN];
		ck_assert_int_eq(crypto_hmac_sha256(secret, strlen(secret), signed_text, strlen(signed_text), mac), 0);
		char hex[2 * CRYPTO_SHA256_LEN + 1];
		crypto_hex(mac, sizeof(mac), hex);
		free(signed_text);
		ENV("HTTP_STRIPE_SIGNATURE=t=%ld,v1=%s", t, hex);
	}
	env[ne] = NULL;
	struct http_req req;
	struct http_res res;
	http_res_init(&res);
	ck_assert_int_eq(http_req_init(&req, app->arena, env, cfg.trusted_proxies, cfg.json_max_depth), 0);
	req.body = body ? body : "";
	req.body_len = body ? strlen(body) : 0;
	api_dispatch(app, &req, &res);
	char *out;
	size_t out_len;
	ck_assert_int_eq(http_res_serialize(&res, app->arena, req.request_id, &out, &out_len), 0);
	int status = res.status;
	arena_reset(app->arena);
	for (int i = 0; i < no; i++)
		free(owned[i]);
	free(path);
	free(body);
	return status;
#undef ENV
}

/* The child: a whole worker set-up, one request, a clean exit (status in the exit code / 100). */
static void child(const struct corpus_req *cr, long n, const char *errfile)
{
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	char num[24];
	snprintf(num, sizeof(num), "%ld", n);
	setenv("TG_ALLOC_FAIL_AT", num, 1);
	mem_torture_init();
	struct app app;
	if (server_app_init(&app, &cfg, "main") != 0)
		_exit(3);
	int status = serve(&app, cr, n);
	server_app_free(&app);
	config_free(&cfg);
	exit(status / 100); /* 2, 4 or 5: never 71 */
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void sweep(const struct corpus_req *cr, int want_status)
{
	char errfile[] = "/tmp/tollgate-torture-XXXXXX";
	int fd = mkstemp(errfile);
	ck_assert_int_ge(fd, 0);
	close(fd);
	long n;
	int injected = 0;
	for (n = 1; n <= MAX_N; n++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			child(cr, n, errfile);
		int ws;
		ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
		ck_assert_msg(!file_has(errfile, "Sanitizer") && !file_has(errfile, "runtime error:"),
			      "%s %s, allocation %ld failing: a sanitizer report (see below)", cr->method, cr->path, n);
		ck_assert_msg(WIFEXITED(ws), "%s %s, allocation %ld failing: killed by signal %d", cr->method, cr->path,
			      n, WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
		int code = WEXITSTATUS(ws);
		if (code == MEM_EXIT_OOM) {
			ck_assert_msg(file_has(errfile, "out of memory; exiting"), "%s %s: exit 71 without mem_oom's line",
				      cr->method, cr->path);
			injected++;
			continue;
		}
		ck_assert_msg(code == want_status / 100, "%s %s, allocation %ld failing: exit %d, want status %d",
			      cr->method, cr->path, n, code, want_status);
		break;
	}
	unlink(errfile);
	ck_assert_msg(n <= MAX_N, "%s %s: still failing at N=%d", cr->method, cr->path, MAX_N);
	printf("ok   %-7s %-40s %4d injected failures ended cleanly, then %d\n", cr->method, cr->path, injected,
	       want_status);
	fflush(stdout);
}

static const struct {
	struct corpus_req r;
	int status;
} corpus[] = {
	{{"GET", "/api/health", NULL, false, false}, 200},
	{{"GET", "/api/ready", NULL, false, false}, 200},
	{{"GET", "/api/nope", NULL, false, false}, 404},
	{{"POST", "/api/auth/register", "{\"email\":\"torture-{n}-" "%PID%" "@example.com\",\"password\":\"correct horse 9\",\"session\":\"body\"}", false, false}, 201},
	{{"POST", "/api/auth/login", "{\"email\":\"nobody-{n}-%PID%@example.com\",\"password\":\"wrong password\"}", false, false}, 401},
	{{"GET", "/api/auth/me", NULL, true, false}, 200},
	{{"GET", "/api/auth/sessions?page=1&per_page=5", NULL, true, false}, 200},
	{{"PATCH", "/api/profile", "{\"name\":\"Torture {n}\"}", true, false}, 200},
	{{"GET", "/api/notifications?unread=1", NULL, true, false}, 200},
	{{"PUT", "/api/profile/notification-preferences", "{\"product_updates\":true,\"usage_warnings\":true,\"billing\":true}", true, false}, 200},
	{{"GET", "/api/billing/plans", NULL, false, false}, 200},
	{{"GET", "/api/billing/subscription", NULL, true, false}, 200},
	{{"GET", "/api/billing/invoices", NULL, true, false}, 200},
	{{"POST", "/api/billing/checkout", "{\"plan\":\"pro\",\"interval\":\"month\"}", true, false}, 200},
	{{"POST", "/api/auth/forgot-password", "{\"email\":\"torture-{n}@example.com\"}", false, false}, 202},
	{{"POST", "/api/webhooks/stripe", "{\"id\":\"evt_torture_{n}_%PID%\",\"object\":\"event\",\"type\":\"customer.created\",\"created\":1700000000,\"data\":{\"object\":{\"id\":\"cus_x\"}}}", false, true}, 200},
	{{"POST", "/api/auth/login", "{\"email\":", false, false}, 400},
};

/* "%PID%" in the corpus makes a parallel run of the suite (or a rerun on the same stack) unique. */
static struct corpus_req with_pid(struct corpus_req r)
{
	static char bufs[4][512];
	static int next;
	if (r.body && strstr(r.body, "%PID%")) {
		char *b = bufs[next++ % 4];
		const char *at = strstr(r.body, "%PID%");
		snprintf(b, 512, "%.*s%ld%s", (int)(at - r.body), r.body, (long)getpid(), at + 5);
		r.body = b;
	}
	return r;
}

static void load_config(void)
{
	const char *path = getenv("TG_CONFIG");
	ck_assert_msg(path != NULL, "TG_CONFIG is not set (run under scripts/run-tests)");
	char err[1024];
	ck_assert_msg(config_load(&cfg, path, err, sizeof(err)) == 0, "config: %s", err);
}

/* A user and an access token, made through the API without any injected failure. */
static void sign_in(void)
{
	struct it_user u;
	it_register(&u, "torture");
	snprintf(access_token, sizeof(access_token), "%s", u.access);
}

START_TEST(test_corpus_under_allocation_failures)
{
	load_config();
	sign_in();
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct corpus_req r = with_pid(corpus[i].r);
		sweep(&r, corpus[i].status);
	}
	config_free(&cfg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("torture_requests");
	TCase *tc = tcase_create("corpus");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_corpus_under_allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
