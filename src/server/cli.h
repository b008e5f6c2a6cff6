/* cli.h — private to src/server: subcommands beyond serve/migrate. */
#ifndef TOLLGATE_SERVER_CLI_H
#define TOLLGATE_SERVER_CLI_H

#include <stdbool.h>

struct tg_config;

int cli_load_config(const char *path, struct tg_config *cfg, bool validate);
/* tollgate user create --email E [--name N] [--admin] */
int cli_user(const char *config_path, int argc, char **argv);

/* tollgate stripe replay [--since 72h] */
int cli_stripe(const char *config_path, int argc, char **argv);

#endif
