/* qr.h — a QR code (libqrencode) drawn as SVG, for an authenticator app's setup URI. */
#ifndef TOLLGATE_QR_H
#define TOLLGATE_QR_H

struct arena;

/* An SVG image of text's QR code (error correction M, a 4-module quiet zone): one path, black on
 * white, scalable. Arena string; NULL when text cannot be encoded (too long). */
char *qr_svg(struct arena *a, const char *text);

#endif
