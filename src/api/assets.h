/* assets.h — the built web application, compiled into the binary (tools/embed_assets.py). */
#ifndef DM_ASSETS_H
#define DM_ASSETS_H
#include <stddef.h>

struct asset {
	const char *path;            /* "/index.html", "/assets/index-1a2b.js" */
	const char *type;            /* Content-Type */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;     /* gzip of data, or NULL */
	size_t gz_len;
};

/* NULL-path terminated; empty when the web app was not built. */
extern const struct asset assets[];

#endif
