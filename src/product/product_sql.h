/* product_sql.h — private to src/product: the area's statement table. Each statement answers
 * JSON built by PostgreSQL (json_build_object), one text column, so the shapes of API.md live in
 * one place and a list is one round trip. */
#ifndef TOLLGATE_PRODUCT_SQL_H
#define TOLLGATE_PRODUCT_SQL_H

#include "tollgate/db.h"

enum product_stmt {
	P_PROJECT_CREATE,
	P_PROJECT_LIST,
	P_PROJECT_GET,
	P_PROJECT_UPDATE,
	P_PROJECT_DELETE,
	P_DOC_CREATE,
	P_DOC_LIST,
	P_DOC_SEARCH,
	P_DOC_GET,
	P_DOC_UPDATE,
	P_DOC_DELETE,
	P_CHUNKS_DELETE,
	P_CHUNKS_INSERT,
	P_MODELS,
	P_AGENT_CREATE,
	P_AGENT_LIST,
	P_AGENT_GET,
	P_AGENT_UPDATE,
	P_AGENT_DELETE,
	P_CONV_LIST,
	P_CONV_GET,
	P_CONV_DELETE,
	P_CHAT_AGENT,
	P_CHAT_HISTORY,
	P_CHAT_PASSAGES,
	P_CHAT_CONV_CREATE,
	P_CHAT_MESSAGE,
	P_CHAT_CONV_TOUCH,
	P_STMT__COUNT
};

extern const struct db_stmts product_stmts;

#endif
