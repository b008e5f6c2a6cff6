/* cli.c — shared pieces of the subcommands. */
#include "cli.h"
#include "tollgate/config.h"
#include "tollgate/log.h"
#include "tollgate/status.h"

#include <stdio.h>

int cli_load_config(const char *path, struct tg_config *cfg, bool validate)
{
	char err[4096];
	if (config_load(cfg, path, err, sizeof(err)) != TG_OK) {
		fputs(err, stderr);
		return 1;
	}
	if (validate && config_validate(cfg, err, sizeof(err)) != TG_OK) {
		fprintf(stderr, "%s%s", path ? path : "(environment)", ": invalid configuration:\n");
		fputs(err, stderr);
		return 1;
	}
	enum log_level lvl;
	if (log_parse_level(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	return 0;
}

