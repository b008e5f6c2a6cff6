/* qr.c — QR codes as SVG through libqrencode. */
#include "tollgate/qr.h"
#include "tollgate/arena.h"
#include "tollgate/mem.h"

#include <errno.h>
#include <qrencode.h>
#include <stdio.h>
#include <string.h>

#define QUIET 4

char *qr_svg(struct arena *a, const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q) {
		if (errno == ENOMEM)
			mem_oom();
		return NULL;
	}
	int w = q->width, size = w + 2 * QUIET;
	/* one "M x y h1v1h-1z" square per dark module: at most ~24 bytes each */
	size_t cap = 256 + (size_t)w * (size_t)w * 24;
	char *svg = arena_alloc(a, cap);
	int n = snprintf(svg, cap,
			 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
			 "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
			 size, size, size, size);
	size_t o = (size_t)n;
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (q->data[y * w + x] & 1)
				o += (size_t)snprintf(svg + o, cap - o, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
	snprintf(svg + o, cap - o, "\"/></svg>");
	QRcode_free(q);
	return svg;
}
