/* fetch.h — collecting an outbound HTTP response body with libcurl, capped. */
#ifndef TOLLGATE_FETCH_H
#define TOLLGATE_FETCH_H

#include <stdbool.h>
#include <stddef.h>

struct fetch_body {
	char *data;      /* NUL-terminated; caller frees */
	size_t len;
	size_t max;      /* a larger body aborts the transfer */
};

/* CURLOPT_WRITEFUNCTION for a struct fetch_body passed as CURLOPT_WRITEDATA. */
size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata);

#endif
