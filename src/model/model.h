/* model.h — the objects of SPEC §1 as data: one field table per kind drives validation, storage
 * columns, JSON rendering and the OpenAPI schemas, so the four can never disagree.
 *
 * Records travel between layers as jansson objects that have passed model_check(); the field
 * table says what each member means. */
#ifndef DM_MODEL_H
#define DM_MODEL_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/err.h"

enum field_type {
	FT_TEXT,   /* string, max = code points */
	FT_INT,    /* 64-bit integer in [min, max] */
	FT_BOOL,
	FT_DATE,   /* "YYYY-MM-DD" */
	FT_TIME,   /* RFC 3339 instant, stored normalised to UTC ms */
	FT_ENUM,   /* one of values[] */
	FT_REF,    /* id of a record of kind `ref` */
	FT_JSON,   /* list or object, checked by `check` */
};

enum field_flag {
	FF_REQUIRED = 1 << 0,   /* must be present and non-null on create */
	FF_READONLY = 1 << 1,   /* never set by clients */
	FF_DERIVED = 1 << 2,    /* computed by the store on read; no column */
	FF_SORT = 1 << 3,       /* allowed in ?sort= */
	FF_FILTER = 1 << 4,     /* allowed as an equality filter */
	FF_WRITEONLY = 1 << 5,  /* accepted on write, never stored as a column nor rendered (password) */
	FF_CREATEONLY = 1 << 6, /* settable on create, read-only afterwards */
	FF_NOTNULL = 1 << 7,    /* may be omitted (default applies) but never null */
	FF_INTERNAL = 1 << 8,   /* derived by the store for the rules' use; never rendered */
	FF_COMPUTED = 1 << 9,   /* computed by the rules on read (domain); no column, not selected */
};

struct field {
	const char *name;
	enum field_type type;
	unsigned flags;
	int64_t min, max;             /* FT_INT range; FT_TEXT max length (code points) */
	const char *const *values;    /* FT_ENUM, NULL-terminated */
	const char *ref;              /* FT_REF: kind name */
	const char *dflt;             /* JSON literal applied on create when absent */
	/* FT_JSON: validate v in place; return 0 or dm_fail(e, DM_EINVAL, name, ...) */
	int (*check)(const struct field *f, json_t *v, struct dm_err *e);
	const char *doc;
	const char *schema;           /* FT_JSON: its JSON Schema, as a JSON literal */
};

enum vis_rule {
	VIS_OWNER,            /* visible when owner_id is visible to the viewer */
	VIS_ACCOUNT,          /* visible when its account is */
	VIS_ACCOUNT_OR_OWNER, /* opportunities: account or owner */
	VIS_DIRECTORY,        /* users and teams: every internal user reads */
	VIS_OPPORTUNITY,      /* stakeholders: visible when their opportunity is */
	VIS_LEAD,             /* leads: assignee within reach, or the caller */
	VIS_QUOTA,            /* quotas: of users within reach, of teams within reach */
};

enum kind_flag {
	KF_NAME_KEY = 1 << 0,     /* keep a normalised name_key of `search_field` for ?name= */
	KF_UNIQUE_NAME = 1 << 1,  /* name_key unique among live records */
	KF_NESTED = 1 << 2,       /* served under its parent's path only */
};

struct kind {
	const char *name;          /* "account": also the audit object name */
	const char *plural;        /* "accounts": path segment and table name */
	const char *title;         /* OpenAPI schema name */
	const struct field *fields;
	size_t nfields;
	enum vis_rule vis;
	unsigned flags;
	const char *search_field;  /* field ?name= searches */
	const char *doc;
};

enum role { ROLE_ADMIN, ROLE_MANAGER, ROLE_REP, ROLE_PARTNER };

/* Who is asking: every query that returns business rows takes one. */
struct viewer {
	int64_t user_id;
	enum role role;
	int64_t team_id;   /* 0 = none */
};

enum check_mode { CHECK_CREATE, CHECK_PATCH };

extern const struct kind kind_user, kind_team, kind_account, kind_contact, kind_opportunity,
	kind_activity, kind_stakeholder, kind_lead, kind_order, kind_quota;
/* Every kind, NULL-terminated, in API order. */
extern const struct kind *const model_kinds[];

extern const char *const model_roles[], *const model_stages[], *const model_channels[],
	*const model_importance[], *const model_lifecycles[], *const model_ranks[], *const model_locales[],
	*const model_cute_roles[], *const model_attitudes[], *const model_buyer_tags[],
	*const model_portrait_blocks[], *const model_lead_statuses[];

const struct kind *model_kind(const char *name);
const struct kind *model_kind_by_plural(const char *plural);
const struct field *model_field(const struct kind *k, const char *name);
/* Index of s in a NULL-terminated list, or -1. */
int model_enum_index(const char *const *values, const char *s);
int model_role_parse(const char *s, enum role *out);
const char *model_role_name(enum role r);

/* Validate a client body for create or patch. On success *out is a new object holding only the
 * fields to write (defaults filled in on create; FT_TIME normalised to UTC ms format), and 0 is
 * returned. On failure the error names the first bad field. */
int model_check(const struct kind *k, json_t *body, enum check_mode mode, json_t **out,
		struct dm_err *e);
/* 1 when the field is a column of the kind's table. */
int model_is_column(const struct field *f);
/* 1 when the store reads the field (a column or a store-derived value). */
int model_is_selected(const struct field *f);
/* model_is_selected, and named in only (a NULL-terminated list; NULL = every field). */
int model_query_selects(const struct field *f, const char *const *only);
/* The record store_get would read back right after store_insert_at(k, rec, …, at) gave id,
 * built from the values inserted: the system fields stamped, each column rec's value (a copy)
 * or null. NULL when k selects a derived field (the store computes it). Only for kinds whose
 * inserted row no trigger changes and whose read-only columns absent from rec default to
 * null (activities). */
json_t *model_record_inserted(const struct kind *k, json_t *rec, int64_t id, const char *at);

#endif
