/* test_statements.c — every statement of every area's table prepares against the migrated
 * schema of the stack's database. A statement is prepared on its first use, so one that only an
 * error path runs would otherwise fail first in production (issue 8's outbox "failed for good"
 * statement had a syntax error no suite reached). */
#include "itest.h"

#include "../../src/auth/auth_sql.h"
#include "../../src/billing/billing_sql.h"
#include "../../src/jobs/jobs_sql.h"
#include "../../src/mail/mail_sql.h"
#include "../../src/product/product_sql.h"
#include "../../src/quota/quota_sql.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

extern const struct db_stmts audit_stmts, settings_stmts; /* private to their areas */

static const struct db_stmts *const sets[] = {&auth_stmts,    &billing_stmts, &jobs_stmts,     &mail_stmts,
					      &product_stmts, &quota_stmts,   &settings_stmts, &audit_stmts};

START_TEST(test_every_statement_prepares)
{
	const char *url = getenv("TG_DATABASE_URL");
	ck_assert_msg(url && *url, "TG_DATABASE_URL is not set (run under scripts/run-tests)");
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	int total = 0, bad = 0;
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		for (int i = 0; i < sets[s]->count; i++) {
			char name[64];
			snprintf(name, sizeof(name), "check_%s_%d", sets[s]->area, i);
			ck_assert_msg(sets[s]->sql[i] != NULL, "%s statement %d has no SQL", sets[s]->area, i);
			PGresult *r = PQprepare(c, name, sets[s]->sql[i], 0, NULL);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				fprintf(stderr, "%s statement %d does not prepare: %s\n  %s\n", sets[s]->area, i,
					PQresultErrorMessage(r), sets[s]->sql[i]);
				bad++;
			}
			PQclear(r);
			total++;
		}
	}
	PQfinish(c);
	printf("%d statements prepared, %d failed\n", total, bad);
	ck_assert_int_eq(bad, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("statements");
	TCase *tc = tcase_create("prepare");
	tcase_add_test(tc, test_every_statement_prepares);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return it_run_suite(suite());
}
