/* page.h — one page of a list: the LIMIT/OFFSET parameters a list statement takes, and the total
 * it found (the api layer turns them into API.md's list envelope). */
#ifndef TOLLGATE_PAGE_H
#define TOLLGATE_PAGE_H


struct page {
	int number;       /* 1-based */
	int per_page;
	char limit[16];   /* statement parameters */
	char offset[24];
	long long total;  /* set by the list function: rows in all, not only on this page */
};

void page_init(struct page *p, int number, int per_page);

#endif
