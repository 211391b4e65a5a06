/* export.h — CSV and XLSX exports of SPEC §9: every record of a kind the viewer may see, with
 * the filters of the list endpoints, paged through rec_list so visibility and need-to-know hold
 * exactly as on the API. Text cells that a spreadsheet would run as a formula (leading =, +, -,
 * @, tab or carriage return) get a leading '. CSV is UTF-8 with a BOM, so Excel reads Chinese. */
#ifndef DM_EXPORT_H
#define DM_EXPORT_H
#include <stdio.h>
#include "../base/err.h"
#include "../domain/records.h"

enum export_format { EXPORT_CSV, EXPORT_XLSX };

/* "csv" | "xlsx"; -1 when neither. */
int export_format_parse(const char *s, enum export_format *out);
/* Write the export to out (CSV) — params are list filters and sort (not limit or cursor). */
int export_csv(struct store *s, const struct kind *k, const struct viewer *v,
	       const struct kv *params, size_t n, FILE *out, struct dm_err *e);
/* Write the export as an XLSX workbook to the new file path. */
int export_xlsx(struct store *s, const struct kind *k, const struct viewer *v,
		const struct kv *params, size_t n, const char *path, struct dm_err *e);
/* A text cell as exported: s itself, or s with a leading ' when it could run as a formula.
 * Returns a pointer to out or to s. */
const char *export_neutralise(const char *s, char *out, size_t outlen);
/* 1 when text would be a formula (or a formula-like prefix) in a spreadsheet. */
int export_is_formula(const char *s);

#endif
