/* fetch.c — the libcurl write callback shared by the Stripe and LiteLLM clients. */
#include "tollgate/fetch.h"
#include "tollgate/mem.h"

#include <stdlib.h>
#include <string.h>

size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_body *b = userdata;
	size_t n = size * nmemb;
	if (b->len + n > b->max)
		return 0;
	char *np = mem_realloc(b->data, b->len + n + 1);
	memcpy(np + b->len, ptr, n);
	b->data = np;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}
