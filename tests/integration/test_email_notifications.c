/* test_email_notifications.c — in-app notifications and the notification preferences (API.md,
 * Email, recovery and notifications): the list (newest first, paginated, ?unread=1), read and
 * read-all (404 for anyone else's), and GET/PUT of the preferences (security cannot be turned off,
 * non-booleans and non-objects refused). */
#include "email_helpers.h"
#include "itest.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static size_t json_len_at(const struct it_resp *r, const char *path)
{
	json_object *o = it_at(r, path);
	ck_assert_msg(o && json_object_is_type(o, json_type_array), "%s is not an array in: %s", path, r->body);
	return json_object_array_length(o);
}

/* RFC 3339 UTC with a 'Z' (fractional seconds allowed). */
static bool is_rfc3339_utc(const char *s)
{
	if (!s || strlen(s) < 20)
		return false;
	static const char *shape = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	}
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return !strcmp(p, "Z");
}

START_TEST(notifications_list_and_read)
{
	struct it_user a, b;
	register_verified(&a, "na"); /* welcome */
	it_register(&b, "nb");
	change_password(&a, "Notify-Quartz-Pass-1"); /* password_changed */
	it_sleep_ms(20);
	change_password(&a, "Notify-Quartz-Pass-2"); /* password_changed */

	struct it_resp *r = it_get("/api/notifications", NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "notifications without Cache-Control: no-store");
	ck_assert_int_eq(json_len_at(r, "items"), 3);
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_int_eq(it_int(r, "unread"), 3);
	ck_assert_int_eq(it_int(r, "page"), 1);
	ck_assert_int_ge(it_int(r, "per_page"), 3);
	/* newest first */
	ck_assert_str_eq(it_str(r, "items.0.kind"), "password_changed");
	ck_assert_str_eq(it_str(r, "items.1.kind"), "password_changed");
	ck_assert_str_eq(it_str(r, "items.2.kind"), "welcome");
	char ids[3][64];
	for (int i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof(p), "items.%d.id", i);
		ck_assert_ptr_nonnull(it_str(r, p));
		snprintf(ids[i], sizeof(ids[i]), "%s", it_str(r, p));
		snprintf(p, sizeof(p), "items.%d.title", i);
		ck_assert_msg(it_str(r, p) && *it_str(r, p), "no title: %s", r->body);
		snprintf(p, sizeof(p), "items.%d.body", i);
		ck_assert_ptr_nonnull(it_str(r, p));
		json_object *item = json_object_array_get_idx(it_at(r, "items"), (size_t)i), *link;
		ck_assert_msg(json_object_object_get_ex(item, "link", &link) &&
				      (link == NULL || json_object_is_type(link, json_type_string)),
			      "link is neither a string nor null: %s", r->body);
		snprintf(p, sizeof(p), "items.%d.created_at", i);
		ck_assert_msg(is_rfc3339_utc(it_str(r, p)), "created_at not RFC 3339 UTC: %s", r->body);
		json_object *ra;
		ck_assert_msg(json_object_object_get_ex(item, "read_at", &ra) && ra == NULL, "read_at not null: %s", r->body);
	}
	ck_assert_msg(strcmp(it_str(r, "items.0.created_at"), it_str(r, "items.1.created_at")) >= 0 &&
			      strcmp(it_str(r, "items.1.created_at"), it_str(r, "items.2.created_at")) >= 0,
		      "not newest first: %s", r->body);
	it_free(r);

	/* pagination */
	r = it_get("/api/notifications?per_page=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 1);
	ck_assert_int_eq(it_int(r, "per_page"), 1);
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[0]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=2", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 1);
	ck_assert_int_eq(it_int(r, "page"), 2);
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[1]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=3", a.access);
	it_expect(r, 200, NULL);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[2]);
	it_free(r);
	r = it_get("/api/notifications?per_page=1&page=4", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	ck_assert_int_eq(it_int(r, "total"), 3);
	it_free(r);

	/* list parameters are validated */
	r = it_get("/api/notifications?per_page=201", a.access);
	expect_field_error(r, "per_page");
	it_free(r);
	r = it_get("/api/notifications?per_page=0", a.access);
	expect_field_error(r, "per_page");
	it_free(r);
	r = it_get("/api/notifications?page=0", a.access);
	expect_field_error(r, "page");
	it_free(r);
	r = it_get("/api/notifications?per_page=200", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "per_page"), 200);
	ck_assert_int_eq(json_len_at(r, "items"), 3);
	it_free(r);

	/* mark one read */
	char path[160];
	snprintf(path, sizeof(path), "/api/notifications/%s/read", ids[0]);
	r = it_post(path, a.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_post(path, a.access, NULL); /* again: still fine */
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "unread"), 2);
	ck_assert_int_eq(it_int(r, "total"), 3);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[0]);
	ck_assert_msg(is_rfc3339_utc(it_str(r, "items.0.read_at")), "read_at not set: %s", r->body);
	it_free(r);
	r = it_get("/api/notifications?unread=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 2);
	ck_assert_int_eq(it_int(r, "total"), 2);
	ck_assert_int_eq(it_int(r, "unread"), 2);
	ck_assert_str_eq(it_str(r, "items.0.id"), ids[1]);
	ck_assert_str_eq(it_str(r, "items.1.id"), ids[2]);
	it_free(r);

	/* another user's notification, or no notification at all: 404 */
	snprintf(path, sizeof(path), "/api/notifications/%s/read", ids[1]);
	r = it_post(path, b.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_post("/api/notifications/00000000-0000-4000-8000-000000000000/read", a.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_post("/api/notifications/not-a-uuid/read", a.access, NULL);
	it_expect(r, 404, "not_found");
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "unread"), 2); /* b changed nothing */
	it_free(r);
	r = it_get("/api/notifications", b.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "total"), 0);
	ck_assert_int_eq(it_int(r, "unread"), 0);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	it_free(r);

	/* read-all */
	r = it_post("/api/notifications/read-all", a.access, NULL);
	it_expect(r, 204, NULL);
	it_free(r);
	r = it_get("/api/notifications", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(it_int(r, "unread"), 0);
	ck_assert_int_eq(it_int(r, "total"), 3);
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "items.%d.read_at", i);
		ck_assert_msg(is_rfc3339_utc(it_str(r, p)), "read_at not set after read-all: %s", r->body);
	}
	it_free(r);
	r = it_get("/api/notifications?unread=1", a.access);
	it_expect(r, 200, NULL);
	ck_assert_int_eq(json_len_at(r, "items"), 0);
	ck_assert_int_eq(it_int(r, "total"), 0);
	it_free(r);
	r = it_post("/api/notifications/read-all", NULL, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

/* ---- preferences */

static void expect_prefs(const struct it_resp *r, bool pu, bool uw, bool bi)
{
	expect_bool(r, "product_updates", pu);
	expect_bool(r, "usage_warnings", uw);
	expect_bool(r, "billing", bi);
	expect_bool(r, "security", true);
}

START_TEST(notification_preferences)
{
	struct it_user u;
	it_register(&u, "pref");
	const char *P = "/api/profile/notification-preferences";
	struct it_resp *r = it_get(P, NULL);
	it_expect(r, 401, "unauthorized");
	it_free(r);

	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, true, true, true);
	const char *cc = it_header(r, "Cache-Control");
	ck_assert_msg(cc && strstr(cc, "no-store"), "preferences without Cache-Control: no-store");
	it_free(r);

	r = put_json(P, u.access, "{\"product_updates\":false}");
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* security cannot be turned off; nothing else changes with the refused request */
	r = put_json(P, u.access, "{\"security\":false}");
	expect_field_error(r, "security");
	it_free(r);
	r = put_json(P, u.access, "{\"product_updates\":true,\"billing\":false,\"security\":false}");
	expect_field_error(r, "security");
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* non-booleans */
	r = put_json(P, u.access, "{\"usage_warnings\":\"no\"}");
	expect_field_error(r, "usage_warnings");
	it_free(r);
	r = put_json(P, u.access, "{\"billing\":0}");
	expect_field_error(r, "billing");
	it_free(r);
	r = put_json(P, u.access, "{\"product_updates\":null}");
	expect_field_error(r, "product_updates");
	it_free(r);
	r = put_json(P, u.access, "{\"security\":\"yes\"}");
	expect_field_error(r, "security");
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, false, true, true);
	it_free(r);

	/* the full shape, security true, is accepted */
	r = put_json(P, u.access, "{\"product_updates\":true,\"usage_warnings\":false,\"billing\":false,\"security\":true}");
	it_expect(r, 200, NULL);
	expect_prefs(r, true, false, false);
	it_free(r);
	r = it_get(P, u.access);
	it_expect(r, 200, NULL);
	expect_prefs(r, true, false, false);
	it_free(r);

	/* not an object: 400 invalid_json, like malformed JSON (there is no field for a 422 to name) */
	r = put_json(P, u.access, "[]");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	r = put_json(P, u.access, "{\"billing\":");
	it_expect(r, 400, "invalid_json");
	it_free(r);
	struct it_req q = {.method = "PUT", .path = P, .bearer = u.access, .body = "billing=1", .content_type = "text/plain"};
	r = it_do(&q);
	it_expect(r, 415, "unsupported_media_type");
	it_free(r);
	r = put_json(P, NULL, "{\"billing\":true}");
	it_expect(r, 401, "unauthorized");
	it_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("email_notifications");
	TCase *notif_tc = tcase_create("notifications");
	tcase_set_timeout(notif_tc, 60);
	tcase_add_test(notif_tc, notifications_list_and_read);
	tcase_add_test(notif_tc, notification_preferences);
	suite_add_tcase(s, notif_tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
