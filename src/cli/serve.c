/* serve.c — `dealmap serve`: the HTTP server until SIGTERM or SIGINT. */
#include "cli.h"
#include "../io/jobs.h"
#include "../api/api.h"
#include "../base/log.h"
#include "../domain/pool.h"
#include <pthread.h>
#include <time.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static const char usage[] =
	"usage: dealmap serve [--db PATH] [--listen HOST:PORT] [--threads N] [--write-threads N]\n"
	"                     [--idle-timeout S]\n"
	"\n"
	"Serve the web app and the JSON API. SIGTERM or SIGINT stop it cleanly, after the\n"
	"requests in flight are answered.\n"
	"  --db PATH           database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080)\n"
	"  --threads N         HTTP worker threads (default two per core; reads that run long\n"
	"                      go to eight threads of their own, reads that cost much CPU to\n"
	"                      one per core)\n"
	"  --write-threads N   threads that run writes while they wait for the commit (default\n"
	"                      64; 0 runs writes on the HTTP worker threads)\n"
	"  --idle-timeout S    close connections idle or stalled for S seconds (default 30)\n";

static int parse_uint(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The daily reclaim sweep: checked at start and every ten minutes; it runs when the last one
 * was not today. */
struct daily {
	struct store *store;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void *daily_main(void *arg)
{
	struct daily *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		struct dm_err e;
		dm_err_clear(&e);
		pthread_mutex_unlock(&d->mu);
		if (pool_sweep_daily(d->store, &e))
			log_warn("daily sweep failed: %s", e.message);
		pthread_mutex_lock(&d->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 600;
		while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "listen", required_argument, NULL, 'l' },
					      { "threads", required_argument, NULL, 't' },
					      { "write-threads", required_argument, NULL, 'w' },
					      { "idle-timeout", required_argument, NULL, 'i' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *listen = "127.0.0.1:8080";
	long threads = 0, write_threads = 64, timeout = 30, port;
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'l': listen = optarg; break;
		case 't':
			if (parse_uint(optarg, 1, 1024, &threads))
				return cli_usage_error(usage, "serve: --threads must be 1-1024");
			break;
		case 'w':
			if (parse_uint(optarg, 0, 1024, &write_threads))
				return cli_usage_error(usage, "serve: --write-threads must be 0-1024");
			break;
		case 'i':
			if (parse_uint(optarg, 1, 3600, &timeout))
				return cli_usage_error(usage, "serve: --idle-timeout must be 1-3600");
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "serve: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "serve: unexpected argument %s", argv[optind]);
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || parse_uint(colon + 1, 1, 65535, &port))
		return cli_usage_error(usage, "serve: --listen must be HOST:PORT, e.g. 127.0.0.1:8080");
	char host[256];
	snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);

	/* Block the stop signals in every thread; this one waits for them below. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *s;
	if (cli_open(db, &s))
		return 1;
	struct app app = { s };
	size_t nroutes;
	const struct route *routes = api_routes(&nroutes);
	struct http_config cfg = { .host = host, .port = (int)port, .threads = (unsigned)threads,
				   .write_threads = (unsigned)write_threads,
				   .timeout_s = (unsigned)timeout, .routes = routes, .nroutes = nroutes,
				   .app = &app, .authenticate = api_authenticate, .done = api_done,
				   .fallback = api_web };
	struct http_server *srv;
	struct dm_err e;
	dm_err_clear(&e);
	if (http_start(&cfg, &srv, &e)) {
		fprintf(stderr, "dealmap: %s\n", e.message);
		store_close(s);
		return 1;
	}
	log_info("dealmap serving %s on http://%s:%ld/ (API: /api/v1, docs: /api/v1/openapi.json)",
		 cli_db_shown(db), host, port);
	printf("dealmap is serving on http://%s:%ld/\n", host, port);
	fflush(stdout);
	struct daily daily = { s, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	pthread_t daily_thread;
	pthread_create(&daily_thread, NULL, daily_main, &daily);
	int sig = 0;
	sigwait(&stop, &sig);
	log_info("signal %d: finishing requests in flight", sig);
	pthread_mutex_lock(&daily.mu);
	daily.stop = 1;
	pthread_cond_signal(&daily.cv);
	pthread_mutex_unlock(&daily.mu);
	pthread_join(daily_thread, NULL);
	http_stop(srv, 10000);
	jobs_drain();
	store_close(s);
	log_info("stopped");
	return 0;
}
