/* page.h — one page of a list: the LIMIT/OFFSET parameters and the response envelope
 * {"items": [...], "page", "per_page", "total"} of API.md's list convention. */
#ifndef TOLLGATE_PAGE_H
#define TOLLGATE_PAGE_H

#include <json.h>

struct page {
	int number;       /* 1-based */
	int per_page;
	char limit[16];   /* statement parameters */
	char offset[24];
};

void page_init(struct page *p, int number, int per_page);
/* The list envelope; takes ownership of items. */
json_object *page_envelope(const struct page *p, json_object *items, long long total);

#endif
