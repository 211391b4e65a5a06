/* fuzz_csv.c — import files: bytes → the CSV reader (encoding detection, separators, quoting,
 * line numbers), every record read to the end, in each encoding mode. */
#include "io/csv.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum csv_encoding modes[] = { CSV_ENC_AUTO, CSV_ENC_UTF8, CSV_ENC_GB18030 };
	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		struct csv_mem mem = { (const char *)data, size, 0 };
		struct csv_reader *r = csv_reader_new(csv_read_mem, &mem, modes[m]);
		char **fields;
		size_t n;
		long line, last = 0;
		struct dm_err e;
		int rc;
		dm_err_clear(&e);
		while ((rc = csv_reader_next(r, &fields, &n, &line, &e)) == 1) {
			if (line < last)
				__builtin_trap();   /* records come in order of their lines */
			last = line;
			for (size_t i = 0; i < n; i++)
				(void)fields[i][0];
		}
		csv_reader_free(r);
	}
	return 0;
}
