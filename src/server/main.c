/* main.c — the tollgate command: serve, migrate, check-config, user, version. */
#include "tollgate/config.h"
#include "tollgate/mem.h"
#include "tollgate/db.h"
#include "tollgate/log.h"
#include "tollgate/migrate.h"
#include "tollgate/server.h"
#include "tollgate/status.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: tollgate [--config FILE] COMMAND [options]\n"
	      "\n"
	      "commands:\n"
	      "  serve                       run the master, the worker pools and the jobs worker\n"
	      "  migrate                     apply pending sql/NNNN_*.sql migrations\n"
	      "  check-config                validate the configuration and print what is wrong\n"
	      "  jobs                        run one jobs worker in the foreground (extra capacity or a jobs-only host)\n"
	      "  user create --email E [--name N] [--admin]\n"
	      "                              create a user; the password is read from stdin\n"
	      "  stripe replay [--since 72h] apply webhook events Stripe could not deliver\n"
	      "  version                     print the version\n"
	      "\n"
	      "The configuration file defaults to $TOLLGATE_CONFIG; TOLLGATE_<KEY> variables override keys.\n",
	      f);
}

static int cmd_check_config(const char *path)
{
	struct tg_config cfg;
	char err[4096];
	int bad = config_load(&cfg, path, err, sizeof(err)) != TG_OK;
	if (bad)
		fputs(err, stderr);
	if (config_validate(&cfg, err, sizeof(err)) != TG_OK) {
		bad = 1;
		fputs(err, stderr);
	}
	if (!bad)
		printf("%s: configuration OK (%s)\n", path ? path : "(defaults + environment)", cfg.environment);
	config_free(&cfg);
	return bad;
}

static int cmd_migrate(const char *path)
{
	struct tg_config cfg;
	if (cli_load_config(path, &cfg, false))
		return 1;
	struct db *db = NULL;
	int rc = db_open(&db, &cfg);
	if (rc != TG_OK) {
		fprintf(stderr, "migrate: cannot connect to the database\n");
		db_close(db);
		config_free(&cfg);
		return 1;
	}
	char *dir = mem_printf("%s/sql", cfg.data_dir);
	char err[1024];
	rc = migrate_apply(db_conn(db), dir, stdout, err, sizeof(err));
	if (rc != TG_OK)
		fprintf(stderr, "migrate: %s\n", err);
	free(dir);
	db_close(db);
	config_free(&cfg);
	return rc == TG_OK ? 0 : 1;
}

static int cmd_serve(const char *path)
{
	struct tg_config cfg;
	if (cli_load_config(path, &cfg, true))
		return 1;
	int code = server_master(path, &cfg);
	config_free(&cfg);
	return code;
}

int main(int argc, char **argv)
{
	const char *config_path = getenv("TOLLGATE_CONFIG");
	int i = 1;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			config_path = argv[i] + 9;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (config_path && !*config_path)
		config_path = NULL;
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
	if (!strcmp(cmd, "serve"))
		return cmd_serve(config_path);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(config_path);
	if (!strcmp(cmd, "check-config"))
		return cmd_check_config(config_path);
	if (!strcmp(cmd, "jobs")) {
		struct tg_config cfg;
		if (cli_load_config(config_path, &cfg, true))
			return 1;
		int code = server_jobs(&cfg);
		config_free(&cfg);
		return code;
	}
	if (!strcmp(cmd, "stripe"))
		return cli_stripe(config_path, argc - i - 1, argv + i + 1);
	if (!strcmp(cmd, "user"))
		return cli_user(config_path, argc - i - 1, argv + i + 1);
	if (!strcmp(cmd, "version")) {
		printf("tollgate %s\n", TOLLGATE_VERSION);
		return 0;
	}
	usage(stderr);
	return 2;
}
