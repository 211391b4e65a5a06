/* user.c — `dealmap user add|list|passwd`: user administration at the shell. */
#include "cli.h"
#include "../domain/auth.h"
#include "../domain/records.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static const char usage[] =
	"usage: dealmap user add --username NAME --password PW [--role ROLE]\n"
	"                        [--display-name TEXT] [--team-id N] [--db PATH]\n"
	"       dealmap user list [--db PATH]\n"
	"       dealmap user passwd --username NAME --password PW [--db PATH]\n"
	"\n"
	"Administer users from the shell (acts as an admin; audited as the command line).\n"
	"  --role ROLE   admin | manager | rep | partner (default rep)\n"
	"  --db PATH     database file (default $DEALMAP_DB or dealmap.db)\n";

struct user_opts {
	const char *db, *username, *password, *role, *display_name;
	long long team_id;
};

static int parse(int argc, char **argv, struct user_opts *o)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "username", required_argument, NULL, 'u' },
					      { "password", required_argument, NULL, 'p' },
					      { "role", required_argument, NULL, 'r' },
					      { "display-name", required_argument, NULL, 'n' },
					      { "team-id", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;
	char *end;
	memset(o, 0, sizeof *o);
	o->db = cli_default_db();
	o->role = "rep";
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'u': o->username = optarg; break;
		case 'p': o->password = optarg; break;
		case 'r': o->role = optarg; break;
		case 'n': o->display_name = optarg; break;
		case 't':
			errno = 0;
			o->team_id = strtoll(optarg, &end, 10);
			if (errno || *end || o->team_id < 1)
				return cli_usage_error(usage, "user: --team-id must be a team id");
			break;
		case 'h': fputs(usage, stdout); return 1;
		default: return cli_usage_error(usage, "user: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "user: unexpected argument %s", argv[optind]);
	return 0;
}

static int fail(const struct dm_err *e)
{
	fprintf(stderr, "dealmap: %s%s%s\n", e->message, e->field[0] ? " (field " : "",
		e->field[0] ? e->field : "");
	if (e->field[0])
		fputs(")\n", stderr);
	return 1;
}

static int user_add(struct store *s, const struct user_opts *o)
{
	struct dm_err e;
	json_t *rec = NULL;
	dm_err_clear(&e);
	json_t *body = json_pack("{s:s,s:s,s:s}", "username", o->username, "role", o->role,
				 "password", o->password);
	if (o->display_name)
		json_object_set_new(body, "display_name", json_string(o->display_name));
	if (o->team_id)
		json_object_set_new(body, "team_id", json_integer(o->team_id));
	int rc = rec_create(s, &kind_user, &viewer_system, body, &rec, &e);
	json_decref(body);
	if (rc)
		return fail(&e);
	printf("created user %s (id %lld, %s)\n", json_string_value(json_object_get(rec, "username")),
	       (long long)json_integer_value(json_object_get(rec, "id")), o->role);
	json_decref(rec);
	return 0;
}

static int user_list(struct store *s)
{
	struct dm_err e;
	char *next = NULL;
	dm_err_clear(&e);
	printf("%-6s %-24s %-8s %-7s %-6s %s\n", "id", "username", "role", "team", "active",
	       "display name");
	do {
		struct kv p[2] = { { "limit", "500" }, { "cursor", next } };
		json_t *items;
		char *n2;
		int rc = rec_list(s, &kind_user, &viewer_system, p, next ? 2 : 1, &items, &n2, &e);
		free(next);
		if (rc)
			return fail(&e);
		size_t i;
		json_t *u;
		json_array_foreach(items, i, u) {
			json_t *team = json_object_get(u, "team_id");
			char t[24] = "-";
			if (json_is_integer(team))
				snprintf(t, sizeof t, "%lld", (long long)json_integer_value(team));
			printf("%-6lld %-24s %-8s %-7s %-6s %s\n",
			       (long long)json_integer_value(json_object_get(u, "id")),
			       json_string_value(json_object_get(u, "username")),
			       json_string_value(json_object_get(u, "role")), t,
			       json_is_true(json_object_get(u, "active")) ? "yes" : "no",
			       json_string_value(json_object_get(u, "display_name")) ?: "");
		}
		json_decref(items);
		next = n2;
	} while (next);
	return 0;
}

static int user_passwd(struct store *s, const struct user_opts *o)
{
	struct dm_err e;
	struct store_cred cred;
	json_t *rec = NULL;
	dm_err_clear(&e);
	if (store_cred_get(s, o->username, &cred, &e))
		return fail(&e);
	json_t *body = json_pack("{s:s}", "password", o->password);
	int rc = rec_update(s, &kind_user, &viewer_system, cred.user_id, body, -1, &rec, &e);
	json_decref(body);
	json_decref(rec);
	if (rc)
		return fail(&e);
	printf("password of %s changed; their sessions have ended\n", o->username);
	return 0;
}

int cmd_user(int argc, char **argv)
{
	struct user_opts o;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "passwd"))
		return cli_usage_error(usage, "user: unknown subcommand %s", sub);
	int rc = parse(argc - 1, argv + 1, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (strcmp(sub, "list") && (!o.username || !o.password))
		return cli_usage_error(usage, "user %s: --username and --password are required", sub);
	struct store *s;
	if (cli_open(o.db, &s))
		return 1;
	if (!strcmp(sub, "add"))
		rc = user_add(s, &o);
	else if (!strcmp(sub, "list"))
		rc = user_list(s);
	else
		rc = user_passwd(s, &o);
	store_close(s);
	return rc;
}
