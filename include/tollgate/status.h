/* status.h — the one status enum every fallible function returns. */
#ifndef TOLLGATE_STATUS_H
#define TOLLGATE_STATUS_H

enum tg_status {
	TG_OK = 0,
	TG_ENOMEM,      /* allocation failed */
	TG_EINPUT,      /* caller's input is invalid */
	TG_ENOTFOUND,   /* no such row / object */
	TG_ECONFLICT,   /* unique violation or state conflict */
	TG_EAUTH,       /* credentials or token rejected */
	TG_EFORBIDDEN,  /* authenticated but not allowed */
	TG_ELIMIT,      /* rate limit or quota reached */
	TG_EDB,         /* database error (not a lost connection) */
	TG_EUNAVAIL,    /* a dependency is down or not configured */
	TG_EUPSTREAM,   /* an upstream service answered with an error */
	TG_EIO,         /* file or socket error */
	TG_EINTERNAL,   /* cannot happen */
};

/* Returns a static, human-readable name of st. */
const char *tg_strerror(enum tg_status st);

#endif
