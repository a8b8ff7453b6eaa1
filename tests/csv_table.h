/* A CSV read back through libcsv for the tests: the cells of the first
 * CSV_T_ROWS rows (strict quoting), header lookups by name. Header-only:
 * test_report and test_compare read what tierbench writes with it. */
#ifndef TB_TESTS_CSV_TABLE_H
#define TB_TESTS_CSV_TABLE_H

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#define CSV_T_ROWS 512
#define CSV_T_COLS 48

struct csv_table {
    char *cell[CSV_T_ROWS][CSV_T_COLS];
    size_t rows, cols[CSV_T_ROWS], col;
};

static void csv_t_field(void *s, size_t len, void *data)
{
    struct csv_table *t = data;
    if (t->rows < CSV_T_ROWS && t->col < CSV_T_COLS) {
        char *c = malloc(len + 1);
        if (c) {
            memcpy(c, s ? s : "", len);
            c[len] = 0;
        }
        t->cell[t->rows][t->col] = c;
    }
    t->col++;
}

static void csv_t_row(int ch, void *data)
{
    (void)ch;
    struct csv_table *t = data;
    if (t->rows < CSV_T_ROWS)
        t->cols[t->rows++] = t->col;
    t->col = 0;
}

/* Parses text (NUL-terminated) into t; -1 when libcsv rejects it. The
 * table needs csv_table_free either way. */
static int csv_table_parse(const char *text, struct csv_table *t)
{
    memset(t, 0, sizeof *t);
    if (!text)
        return -1;
    struct csv_parser p;
    int rc = csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) ? -1 : 0;
    const size_t n = strlen(text);
    if (!rc && csv_parse(&p, text, n, csv_t_field, csv_t_row, t) != n)
        rc = -1;
    if (!rc && csv_fini(&p, csv_t_field, csv_t_row, t))
        rc = -1;
    csv_free(&p);
    return rc;
}

static void csv_table_free(struct csv_table *t)
{
    for (size_t r = 0; r < t->rows && r < CSV_T_ROWS; r++)
        for (size_t c = 0; c < t->cols[r] && c < CSV_T_COLS; c++)
            free(t->cell[r][c]);
}

/* The header column called name, or -1. */
static int csv_table_col(const struct csv_table *t, const char *name)
{
    for (size_t c = 0; t->rows && c < t->cols[0] && c < CSV_T_COLS; c++)
        if (t->cell[0][c] && !strcmp(t->cell[0][c], name))
            return (int)c;
    return -1;
}

#endif
