#include "cli.h"
#include <stdio.h>
int cli_user(const char *config_path, int argc, char **argv)
{
	(void)config_path; (void)argc; (void)argv;
	fputs("not yet\n", stderr);
	return 2;
}
