/* cli.h — the commands of the dealmap program, one file each, and what they share. */
#ifndef DM_CLI_H
#define DM_CLI_H
#include <getopt.h>
#include "../store/store.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_serve(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_generate(int argc, char **argv);

/* The database named by --db, else $DEALMAP_DB, else "dealmap.db". */
const char *cli_default_db(void);
/* db as it may be printed: a PostgreSQL URL's password replaced by ***. A static buffer: one
 * call per message. */
const char *cli_db_shown(const char *db);
/* Open and migrate the store; prints the reason and returns non-zero on failure. */
int cli_open(const char *db, struct store **out);
/* Print "dealmap CMD: msg" and the usage, return 2 (a usage error). */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ensure the user admin exists; generate a password when none is given (printed once). */
int cli_ensure_admin(struct store *s, const char *password);
/* The viewer of an active user named by username (--as); prints the reason on failure. */
int cli_viewer_as(struct store *s, const char *username, struct viewer *out);
/* getopt_long over argv with the given long options; unknown ones are a usage error. */
void cli_reset_getopt(void);

#endif
