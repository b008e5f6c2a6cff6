/* page.c — list pages. */
#include "tollgate/page.h"

#include <stdio.h>

void page_init(struct page *p, int number, int per_page)
{
	p->number = number;
	p->per_page = per_page;
	p->total = 0;
	snprintf(p->limit, sizeof(p->limit), "%d", per_page);
	snprintf(p->offset, sizeof(p->offset), "%lld", (long long)(number - 1) * per_page);
}
