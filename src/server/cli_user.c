/* cli_user.c — `tollgate user create --email E [--name N] [--admin]`, password from stdin. */
#include "cli.h"
#include "tollgate/account.h"
#include "tollgate/arena.h"
#include "tollgate/config.h"
#include "tollgate/db.h"
#include "tollgate/password.h"
#include "tollgate/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Reads one line from stdin; with a terminal, prompts without echo. Caller frees. */
static char *read_password(void)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	if (tty) {
		fputs("Password: ", stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		} else {
			tty = false;
		}
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

int cli_user(const char *config_path, int argc, char **argv)
{
	const char *email_in = NULL, *name = "";
	bool admin = false;
	if (argc < 1 || strcmp(argv[0], "create")) {
		fputs("usage: tollgate user create --email E [--name N] [--admin]\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--email") && i + 1 < argc)
			email_in = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--admin"))
			admin = true;
		else {
			fprintf(stderr, "user create: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	struct tg_config cfg;
	if (cli_load_config(config_path, &cfg, false))
		return 1;
	int code = 1;
	struct arena *a = arena_new(0);
	struct db *db = NULL;
	struct password_hasher *h = NULL;
	char *password = NULL;
	char *email = a ? account_normalize_email(a, email_in) : NULL;
	if (!email) {
		fputs("user create: --email must be a valid email address\n", stderr);
		goto out;
	}
	if (!account_name_valid(name)) {
		fputs("user create: --name is too long\n", stderr);
		goto out;
	}
	if (!(password = read_password())) {
		fputs("user create: no password on stdin\n", stderr);
		goto out;
	}
	const char *why = password_check_rules(password, email);
	if (why) {
		fprintf(stderr, "user create: the password %s\n", why);
		goto out;
	}
	if (db_open(&db, &cfg) != TG_OK) {
		fputs("user create: cannot connect to the database\n", stderr);
		goto out;
	}
	char *hash;
	if (!(h = password_hasher_new(cfg.bcrypt_cost)) || password_hash(h, a, password, &hash) != TG_OK) {
		fputs("user create: hashing failed\n", stderr);
		goto out;
	}
	const char *id;
	int rc = account_create(db, a, email, name, hash, admin ? "admin" : "user", &id);
	if (rc == TG_ECONFLICT) {
		fprintf(stderr, "user create: %s already exists\n", email);
		code = 3;
		goto out;
	}
	if (rc != TG_OK) {
		fprintf(stderr, "user create: %s\n", tg_strerror(rc));
		goto out;
	}
	printf("created %s %s (%s)\n", admin ? "admin" : "user", email, id);
	code = 0;
out:
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	password_hasher_free(h);
	db_close(db);
	arena_destroy(a);
	config_free(&cfg);
	return code;
}
