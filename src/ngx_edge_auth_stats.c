
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_stats.h"


/* the zone's tag: only this file adds the zone, and finds it again */
static ngx_uint_t  ngx_edge_auth_stats_tag;

static ngx_str_t  ngx_edge_auth_stats_name = ngx_string("edge_auth_stats");


static ngx_int_t ngx_edge_auth_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static int ngx_libc_cdecl ngx_edge_auth_stats_want_cmp(const void *one,
    const void *two);


ngx_int_t
ngx_edge_auth_stats_register(ngx_conf_t *cf, ngx_uint_t group,
    ngx_str_t *name, ngx_uint_t size, ngx_edge_auth_stats_set_t **set)
{
    ngx_shm_zone_t              *shm_zone;
    ngx_edge_auth_stats_t       *stats;
    ngx_edge_auth_stats_want_t  *w;

    /*
     * The zone's size goes in steps of 64K (some 250 sets each), so a
     * reload that adds a list or two keeps the zone, and its counters.
     */

    shm_zone = ngx_shared_memory_add(cf, &ngx_edge_auth_stats_name, 0,
                                     &ngx_edge_auth_stats_tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    stats = shm_zone->data;

    if (stats == NULL) {
        stats = ngx_pcalloc(cf->pool, sizeof(ngx_edge_auth_stats_t));
        if (stats == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&stats->wanted, cf->pool, 4,
                           sizeof(ngx_edge_auth_stats_want_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        stats->zone = shm_zone;
        shm_zone->init = ngx_edge_auth_stats_init_zone;
        shm_zone->data = stats;
    }

    w = ngx_array_push(&stats->wanted);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->group = group;
    w->name = *name;
    w->size = size;
    w->set = set;

    shm_zone->shm.size = 65536 * (1 + stats->wanted.nelts / 256);

    return NGX_OK;
}


ngx_edge_auth_stats_t *
ngx_edge_auth_stats_get(ngx_cycle_t *cycle)
{
    ngx_uint_t       i;
    ngx_list_part_t *part;
    ngx_shm_zone_t  *zone;

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == &ngx_edge_auth_stats_tag) {
            return zone[i].data;
        }
    }
}


static ngx_int_t
ngx_edge_auth_stats_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_edge_auth_stats_t  *ostats = data;

    size_t                       len;
    ngx_uint_t                   i, n;
    ngx_queue_t                 *q;
    ngx_edge_auth_stats_t       *stats;
    ngx_edge_auth_stats_set_t   *set;
    ngx_edge_auth_stats_want_t  *w, **sorted, **found, *k, key;

    stats = shm_zone->data;
    stats->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ostats) {
        stats->sets = ostats->sets;

    } else if (shm_zone->shm.exists) {
        stats->sets = stats->shpool->data;

    } else {
        stats->sets = ngx_slab_alloc(stats->shpool, sizeof(ngx_queue_t));
        if (stats->sets == NULL) {
            return NGX_ERROR;
        }

        ngx_queue_init(stats->sets);
        stats->shpool->data = stats->sets;

        len = sizeof(" in stats zone \"\"") + shm_zone->shm.name.len;

        stats->shpool->log_ctx = ngx_slab_alloc(stats->shpool, len);
        if (stats->shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(stats->shpool->log_ctx, " in stats zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    /*
     * Sets of lists that are gone stay: a few bytes each, and old
     * workers may still count in them during a reload.  The wanted ones
     * are sorted once and the zone's sets walked once, each looked up by
     * binary search: thousands of sets cost O(N log N).
     */

    n = stats->wanted.nelts;
    w = stats->wanted.elts;

    sorted = ngx_alloc(ngx_max(n, 1) * sizeof(ngx_edge_auth_stats_want_t *),
                       shm_zone->shm.log);
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        sorted[i] = &w[i];
        *w[i].set = NULL;
    }

    ngx_qsort(sorted, n, sizeof(ngx_edge_auth_stats_want_t *),
              ngx_edge_auth_stats_want_cmp);

    ngx_shmtx_lock(&stats->shpool->mutex);

    for (q = ngx_queue_head(stats->sets);
         q != ngx_queue_sentinel(stats->sets);
         q = ngx_queue_next(q))
    {
        set = ngx_queue_data(q, ngx_edge_auth_stats_set_t, queue);

        key.group = set->group;
        key.name.len = set->name_len;
        key.name.data = set->name;
        k = &key;

        found = bsearch(&k, sorted, n, sizeof(ngx_edge_auth_stats_want_t *),
                        ngx_edge_auth_stats_want_cmp);

        if (found) {
            *(*found)->set = set;
        }
    }

    for (i = 0; i < n; i++) {
        if (*sorted[i]->set) {
            continue;
        }

        set = ngx_slab_calloc_locked(stats->shpool,
                                     sizeof(ngx_edge_auth_stats_set_t)
                                     + sorted[i]->name.len);
        if (set == NULL) {
            ngx_shmtx_unlock(&stats->shpool->mutex);
            ngx_free(sorted);
            return NGX_ERROR;
        }

        set->group = sorted[i]->group;
        set->name_len = sorted[i]->name.len;
        ngx_memcpy(set->name, sorted[i]->name.data, sorted[i]->name.len);

        ngx_queue_insert_tail(stats->sets, &set->queue);

        *sorted[i]->set = set;

        /* the same name twice in a group shares its set */

        while (i + 1 < n
               && ngx_edge_auth_stats_want_cmp(&sorted[i], &sorted[i + 1])
                  == 0)
        {
            *sorted[++i]->set = set;
        }
    }

    ngx_free(sorted);

    ngx_shmtx_unlock(&stats->shpool->mutex);

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_edge_auth_stats_want_cmp(const void *one, const void *two)
{
    ngx_edge_auth_stats_want_t * const  *a = one;
    ngx_edge_auth_stats_want_t * const  *b = two;

    if ((*a)->group != (*b)->group) {
        return (*a)->group < (*b)->group ? -1 : 1;
    }

    return ngx_memn2cmp((*a)->name.data, (*b)->name.data, (*a)->name.len,
                        (*b)->name.len);
}
