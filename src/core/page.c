/* page.c — list pages. */
#include "tollgate/page.h"

#include <stdio.h>

void page_init(struct page *p, int number, int per_page)
{
	p->number = number;
	p->per_page = per_page;
	snprintf(p->limit, sizeof(p->limit), "%d", per_page);
	snprintf(p->offset, sizeof(p->offset), "%lld", (long long)(number - 1) * per_page);
}

json_object *page_envelope(const struct page *p, json_object *items, long long total)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "page", json_object_new_int(p->number));
	json_object_object_add(o, "per_page", json_object_new_int(p->per_page));
	json_object_object_add(o, "total", json_object_new_int64(total));
	return o;
}
