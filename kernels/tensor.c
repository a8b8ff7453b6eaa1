#include "tb_tensor.h"
#include "tb_error.h"

#include <stdio.h>
#include <string.h>

int tb_tensor_init(struct tb_tensor *t, enum tb_type type, int n_dims, const int64_t *ne,
                   void *data, const char *name)
{
    const struct tb_type_traits *tr = tb_type_traits(type);
    if (!tr || n_dims < 1 || n_dims > TB_MAX_DIMS || ne[0] % tr->block_size != 0)
        return TB_EINVAL;
    memset(t, 0, sizeof *t);
    t->type = type;
    for (int i = 0; i < TB_MAX_DIMS; i++)
        t->ne[i] = i < n_dims ? ne[i] : 1;
    t->nb[0] = tr->type_size;
    t->nb[1] = (size_t)(t->ne[0] / tr->block_size) * tr->type_size;
    for (int i = 2; i < TB_MAX_DIMS; i++)
        t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
    t->data = data;
    if (name)
        snprintf(t->name, sizeof t->name, "%s", name);
    return TB_OK;
}

int64_t tb_tensor_nelements(const struct tb_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int64_t tb_tensor_nrows(const struct tb_tensor *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

size_t tb_tensor_nbytes(const struct tb_tensor *t)
{
    return t->nb[1] * (size_t)tb_tensor_nrows(t);
}

bool tb_tensor_rows_ok(const struct tb_tensor *t)
{
    if (!t || !t->data)
        return false;
    const struct tb_type_traits *tr = tb_type_traits(t->type);
    if (!tr)
        return false;
    for (int d = 0; d < TB_MAX_DIMS; d++)
        if (t->ne[d] < 1)
            return false;
    const size_t row = tb_row_size(t->type, t->ne[0]);
    return row != 0 && t->nb[0] == tr->type_size && t->nb[1] >= row &&
           t->nb[1] % tr->type_size == 0 &&
           (t->ne[2] == 1 || t->nb[2] == t->nb[1] * (size_t)t->ne[1]) &&
           (t->ne[3] == 1 || t->nb[3] == t->nb[2] * (size_t)t->ne[2]);
}
