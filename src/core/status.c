#include "tollgate/status.h"

const char *tg_strerror(enum tg_status st)
{
	switch (st) {
	case TG_OK: return "ok";
	case TG_ENOMEM: return "out of memory";
	case TG_EINPUT: return "invalid input";
	case TG_ENOTFOUND: return "not found";
	case TG_ECONFLICT: return "conflict";
	case TG_EAUTH: return "authentication failed";
	case TG_EFORBIDDEN: return "forbidden";
	case TG_ELIMIT: return "limit reached";
	case TG_EDB: return "database error";
	case TG_EUNAVAIL: return "unavailable";
	case TG_EUPSTREAM: return "upstream error";
	case TG_EIO: return "i/o error";
	case TG_EINTERNAL: return "internal error";
	}
	return "unknown status";
}
