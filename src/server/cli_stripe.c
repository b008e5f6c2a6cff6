/* cli_stripe.c — `tollgate stripe replay --since 72h`: apply events Stripe could not deliver. */
#include "cli.h"
#include "tollgate/arena.h"
#include "tollgate/billing.h"
#include "tollgate/config.h"
#include "tollgate/deadline.h"
#include "tollgate/timeutil.h"
#include "tollgate/db.h"
#include "tollgate/status.h"
#include "tollgate/stripe.h"
#include "tollgate/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define REPLAY_MAX_PAGES 100

/* Applies one listed event unless it already was. Returns 1 applied, 0 already, -1 not applied. */
static int replay_one(const struct tg_config *cfg, struct db *db, struct arena *a, json_object *ev)
{
	const char *id = stripe_str(ev, "id");
	bool stored, done, dup;
	if (!id || billing_event_applied(db, a, id, &stored, &done) != TG_OK)
		return -1;
	if (done)
		return 0;
	if (!stored && billing_event_ingest(db, a, cfg, ev, NULL, &dup) == TG_OK &&
	    billing_event_applied(db, a, id, &stored, &done) == TG_OK && done) {
		printf("applied %s %s\n", id, stripe_str(ev, "type"));
		return 1;
	}
	printf("not applied %s %s (stored; the jobs worker retries it)\n", id, stripe_str(ev, "type"));
	return -1;
}

static int replay(const struct tg_config *cfg, struct db *db, struct arena *a, long long since_seconds)
{
	char gte[24];
	snprintf(gte, sizeof(gte), "%lld", (long long)time(NULL) - since_seconds);
	/* Stripe lists newest first; collect every page, then apply oldest first, as they happened. */
	json_object *all = json_object_new_array();
	const char *after = NULL;
	for (int page = 0; page < REPLAY_MAX_PAGES; page++) {
		struct stripe_form *f = stripe_form_new(a);
		stripe_form_add(f, "delivery_success", "false");
		stripe_form_add(f, "created[gte]", gte);
		stripe_form_add(f, "limit", "100");
		stripe_form_add(f, "starting_after", after);
		json_object *list, *data;
		struct stripe_error err;
		struct deadline dl = deadline_at(time_mono_us(), (long)cfg->stripe_timeout * 3000);
		if (stripe_call(cfg, a, &dl, "GET", "/v1/events", f, NULL, &list, &err) != TG_OK) {
			fprintf(stderr, "stripe replay: listing events failed: %s %s\n", err.type, err.message);
			json_object_put(all);
			return 1;
		}
		if (!json_object_object_get_ex(list, "data", &data) || !json_object_is_type(data, json_type_array))
			break;
		size_t n = json_object_array_length(data);
		for (size_t i = 0; i < n; i++) {
			json_object *ev = json_object_array_get_idx(data, i);
			json_object_array_add(all, json_object_get(ev));
			if (stripe_str(ev, "id"))
				after = stripe_str(ev, "id");
		}
		if (!stripe_bool(list, "has_more") || n == 0)
			break;
	}
	int applied = 0, already = 0, failed = 0;
	size_t total = json_object_array_length(all);
	for (size_t i = total; i-- > 0;) {
		int r = replay_one(cfg, db, a, json_object_array_get_idx(all, i));
		applied += r == 1;
		already += r == 0;
		failed += r < 0;
	}
	json_object_put(all);
	printf("%zu events listed: %d applied now, %d already applied, %d not applied\n", total, applied, already,
	       failed);
	return failed ? 1 : 0;
}

int cli_stripe(const char *config_path, int argc, char **argv)
{
	long long since = 72 * 3600;
	if (argc < 1 || strcmp(argv[0], "replay")) {
		fputs("usage: tollgate stripe replay [--since 72h]\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			if (time_parse_duration(argv[++i], &since) != 0 || since > 30LL * 86400) {
				fputs("stripe replay: --since takes a duration up to 30d (e.g. 72h)\n", stderr);
				return 2;
			}
		} else {
			fprintf(stderr, "stripe replay: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	struct tg_config cfg;
	if (cli_load_config(config_path, &cfg, false))
		return 1;
	int code = 1;
	struct arena *a = arena_new(0);
	struct db *db = NULL;
	if (!stripe_configured(&cfg))
		fputs("stripe replay: stripe_secret_key is not configured\n", stderr);
	else if (!a || db_open(&db, &cfg) != TG_OK)
		fputs("stripe replay: cannot connect to the database\n", stderr);
	else
		code = replay(&cfg, db, a, since);
	db_close(db);
	arena_destroy(a);
	config_free(&cfg);
	return code;
}
