/* sqlite_schema.c — the numbered migrations of the SQLite backend. Never edit a released one:
 * add the next. Migration N sets PRAGMA user_version = N. */
#include "sqlite_schema.h"

#define LIVE "id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, " \
	     "version INTEGER NOT NULL DEFAULT 1, archived_at TEXT"

const char *const sqlite_migrations[] = {
	/* 1: the foundation */
	"CREATE TABLE teams (" LIVE ", name TEXT NOT NULL, name_key TEXT,"
	"  parent_id INTEGER REFERENCES teams(id), manager_id INTEGER REFERENCES users(id));"
	"CREATE TABLE users (" LIVE ", username TEXT NOT NULL, display_name TEXT, name_key TEXT,"
	"  role TEXT NOT NULL, team_id INTEGER REFERENCES teams(id), hired_on TEXT,"
	"  active INTEGER NOT NULL DEFAULT 1, locale TEXT NOT NULL DEFAULT 'zh-CN',"
	"  password_hash TEXT);"
	"CREATE UNIQUE INDEX users_username ON users(username);"
	"CREATE INDEX users_team ON users(team_id);"
	"CREATE INDEX teams_parent ON teams(parent_id);"
	"CREATE INDEX teams_manager ON teams(manager_id);"
	"CREATE TABLE accounts (" LIVE ", name TEXT NOT NULL, name_key TEXT NOT NULL,"
	"  industry TEXT, scale TEXT, nature TEXT, address TEXT, website TEXT, phone TEXT,"
	"  source TEXT, owner_id INTEGER REFERENCES users(id), importance TEXT NOT NULL,"
	"  lifecycle TEXT NOT NULL, first_deal_on TEXT, installed_base TEXT NOT NULL DEFAULT '[]',"
	"  notes TEXT);"
	"CREATE UNIQUE INDEX accounts_name_key ON accounts(name_key) WHERE archived_at IS NULL;"
	"CREATE INDEX accounts_owner ON accounts(owner_id, id);"
	"CREATE TABLE contacts (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  name TEXT NOT NULL, name_key TEXT, title TEXT, department TEXT, rank TEXT,"
	"  reports_to_id INTEGER REFERENCES contacts(id), faction TEXT, phone TEXT, email TEXT,"
	"  wechat TEXT);"
	"CREATE INDEX contacts_account ON contacts(account_id);"
	"CREATE TABLE opportunities (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  name TEXT NOT NULL, name_key TEXT, owner_id INTEGER REFERENCES users(id),"
	"  amount INTEGER NOT NULL DEFAULT 0, currency TEXT NOT NULL DEFAULT 'CNY',"
	"  stage TEXT NOT NULL, expected_close_on TEXT, competitors TEXT NOT NULL DEFAULT '[]',"
	"  purchase_criteria TEXT NOT NULL DEFAULT '[]', assessment TEXT, lost_reason TEXT);"
	"CREATE INDEX opportunities_account ON opportunities(account_id);"
	"CREATE INDEX opportunities_owner ON opportunities(owner_id);"
	"CREATE INDEX opportunities_stage ON opportunities(stage);"
	"CREATE TABLE activities (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  contact_ids TEXT NOT NULL DEFAULT '[]',"
	"  opportunity_id INTEGER REFERENCES opportunities(id), channel TEXT NOT NULL,"
	"  occurred_at TEXT NOT NULL, effective INTEGER NOT NULL DEFAULT 1, summary TEXT,"
	"  next_touch_on TEXT, user_id INTEGER REFERENCES users(id));"
	"CREATE INDEX activities_account ON activities(account_id, effective, occurred_at);"
	"CREATE INDEX activities_opportunity ON activities(opportunity_id);"
	"CREATE TABLE audit (id INTEGER PRIMARY KEY, object TEXT NOT NULL,"
	"  object_id INTEGER NOT NULL, actor_id INTEGER, at TEXT NOT NULL, action TEXT NOT NULL,"
	"  field TEXT, old TEXT, new TEXT);"
	"CREATE INDEX audit_object ON audit(object, object_id, id);"
	"CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL"
	"  REFERENCES users(id), csrf TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  seen_ms INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions(user_id);",
};

const int sqlite_migration_count = sizeof sqlite_migrations / sizeof sqlite_migrations[0];
