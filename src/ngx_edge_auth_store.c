
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_store.h"

#include <openssl/rand.h>


static ngx_int_t ngx_edge_auth_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static int ngx_libc_cdecl ngx_edge_auth_store_want_cmp(const void *one,
    const void *two);
static ngx_uint_t ngx_edge_auth_store_live(ngx_edge_auth_store_t *store);
static ngx_int_t ngx_edge_auth_store_refuse(ngx_shm_zone_t *shm_zone,
    ngx_edge_auth_store_t *store, ngx_uint_t more, ngx_uint_t made,
    ngx_uint_t reload);
static u_char *ngx_edge_auth_store_copy(ngx_edge_auth_store_t *store,
    ngx_str_t *value);
static void ngx_edge_auth_store_free(ngx_edge_auth_store_t *store, u_char *p,
    size_t len);
static void ngx_edge_auth_store_retire(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, int64_t now);
static ngx_int_t ngx_edge_auth_store_init_hosts(ngx_edge_auth_store_t *store);
static ngx_uint_t ngx_edge_auth_store_class(size_t len);
static void ngx_edge_auth_store_changed(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e);


/* this worker's record in the zone, for exit_process */
static ngx_edge_auth_worker_t  *ngx_edge_auth_store_me;


ngx_edge_auth_store_t *
ngx_edge_auth_store_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag)
{
    ngx_shm_zone_t         *shm_zone;
    ngx_edge_auth_store_t  *store;

    store = ngx_pcalloc(cf->pool, sizeof(ngx_edge_auth_store_t));
    if (store == NULL) {
        return NULL;
    }

    if (ngx_array_init(&store->wanted, cf->pool, 4,
                       sizeof(ngx_edge_auth_want_t))
        != NGX_OK
        || ngx_array_init(&store->hosts, cf->pool, 4,
                          sizeof(ngx_edge_auth_host_want_t))
           != NGX_OK)
    {
        return NULL;
    }

    store->name = *name;
    store->size = size;

    ngx_edge_auth_store_reserve(store, sizeof(ngx_edge_auth_store_sh_t));
    ngx_edge_auth_store_reserve(store, sizeof(" in credential store zone "
                                              "\"\"") + name->len);

    shm_zone = ngx_shared_memory_add(cf, name, size, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential store zone \"%V\" is already used",
                           name);
        return NULL;
    }

    store->name = *name;

    shm_zone->init = ngx_edge_auth_store_init_zone;
    shm_zone->data = store;

    return store;
}


ngx_int_t
ngx_edge_auth_store_want(ngx_conf_t *cf, ngx_edge_auth_store_t *store,
    u_char *key, ngx_edge_auth_entry_t **entry)
{
    ngx_edge_auth_want_t  *w;

    w = ngx_array_push(&store->wanted);
    if (w == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(w->key, key, NGX_EDGE_AUTH_KEY_LEN);
    w->entry = entry;
    *entry = NULL;

    ngx_edge_auth_store_reserve(store, sizeof(ngx_edge_auth_entry_t));

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_store_want_host(ngx_conf_t *cf, ngx_edge_auth_store_t *store,
    ngx_str_t *name, ngx_uint_t cap, ngx_edge_auth_host_t **host)
{
    ngx_edge_auth_host_want_t  *h;

    h = ngx_array_push(&store->hosts);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->name = *name;
    h->cap = cap;
    h->host = host;

    ngx_edge_auth_store_reserve(store, sizeof(ngx_edge_auth_host_t)
                                       + name->len);
    ngx_edge_auth_store_reserve(store, cap * sizeof(ngx_edge_auth_slot_t));

    return NGX_OK;
}


/*
 * ngx_slab_alloc() gives a value of up to half a page a chunk of the next
 * power of two (8 bytes at least), from pages of chunks of one size; a
 * larger one whole pages.
 */

static ngx_uint_t
ngx_edge_auth_store_class(size_t len)
{
    ngx_uint_t  shift;

    for (shift = 3; ((size_t) 1 << shift) < len; shift++) {
        /* void */
    }

    return shift;
}


size_t
ngx_edge_auth_store_chunk(size_t len)
{
    if (len == 0) {
        return 0;
    }

    if (len > ngx_pagesize / 2) {
        return (len + ngx_pagesize - 1) / ngx_pagesize * ngx_pagesize;
    }

    return (size_t) 1 << ngx_edge_auth_store_class(len);
}


void
ngx_edge_auth_store_reserve(ngx_edge_auth_store_t *store, size_t len)
{
    ngx_uint_t  shift;

    if (len == 0) {
        return;
    }

    if (len > ngx_pagesize / 2) {
        store->pages += (len + ngx_pagesize - 1) / ngx_pagesize;
        return;
    }

    shift = ngx_edge_auth_store_class(len);

    if (shift < NGX_EDGE_AUTH_STORE_CLASSES) {
        store->chunks[shift]++;

    } else {
        store->pages++;
    }
}


size_t
ngx_edge_auth_store_need(ngx_edge_auth_store_t *store)
{
    size_t      per, size, bitmap;
    ngx_uint_t  shift, pages;

    pages = store->pages;

    for (shift = 3; shift < NGX_EDGE_AUTH_STORE_CLASSES; shift++) {
        if (store->chunks[shift] == 0) {
            continue;
        }

        per = ngx_pagesize >> shift;

        /* small chunks keep their page's bitmap in its first chunks */
        bitmap = per / 8;

        if (bitmap > sizeof(uintptr_t)) {
            per -= (bitmap + ((size_t) 1 << shift) - 1) >> shift;
        }

        pages += (store->chunks[shift] + per - 1) / per;
    }

    /*
     * ngx_slab_init(): the pool, a descriptor for every page and one page
     * lost to alignment; and one page of slack per class for chunks freed
     * in pages that still hold others.
     */

    pages += 1 + NGX_EDGE_AUTH_STORE_CLASSES;

    size = sizeof(ngx_slab_pool_t)
           + NGX_EDGE_AUTH_STORE_CLASSES * 2 * sizeof(ngx_slab_page_t)
           + pages * (ngx_pagesize + sizeof(ngx_slab_page_t));

    /* in kilobytes, as an operator writes it */
    return (size + 1023) / 1024 * 1024;
}


/*
 * Every credential is handed its entry: the wanted keys sorted once, and
 * the zone's entries walked once, each looked up by binary search, so
 * that a configuration of N credentials costs O(N log N), reloads too.
 *
 * Generations: each configuration gets the next one, and marks the
 * entries it wants with it.  An entry that it does not want (a rotated
 * secret is a new fingerprint, a removed credential) is freed when
 * neither the previous configuration (whose workers may not have started
 * yet) nor a live worker of its own generation or older can use it.
 */

static ngx_int_t
ngx_edge_auth_store_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_edge_auth_store_t  *ostore = data;

    size_t                   len;
    int64_t                  now;
    ngx_uint_t               i, n, keep, live, more, made;
    ngx_queue_t             *q, *next;
    ngx_edge_auth_want_t    *w, **sorted, **found, key;
    ngx_edge_auth_entry_t   *e;
    ngx_edge_auth_store_t   *store;

    store = shm_zone->data;

    store->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /*
     * A full zone is said once, with the size to set, by the renewal
     * that could not store its token: not by the slab at every try.
     */
    store->shpool->log_nomem = 0;

    if (ostore) {
        /*
         * A reload: the tokens are already here.  Redis may be another
         * one now: its outage is its own to say.
         */
        store->sh = ostore->sh;
        store->sh->redis_down = 0;

    } else if (shm_zone->shm.exists) {
        store->sh = store->shpool->data;

    } else {
        store->sh = ngx_slab_calloc(store->shpool,
                                    sizeof(ngx_edge_auth_store_sh_t));
        if (store->sh == NULL) {
            return ngx_edge_auth_store_refuse(shm_zone, store, 0, 0, 0);
        }

        store->shpool->data = store->sh;
        ngx_queue_init(&store->sh->entries);
        ngx_queue_init(&store->sh->workers);
        ngx_queue_init(&store->sh->hosts);
        store->sh->redis_down = 0;
        store->sh->floor = NGX_MAX_UINT32_VALUE;
        store->sh->fleet_seen = -1;
        store->sh->fleet_fetch = -1;
        store->sh->full = 0;

        len = sizeof(" in credential store zone \"\"") + shm_zone->shm.name.len;

        store->shpool->log_ctx = ngx_slab_alloc(store->shpool, len);
        if (store->shpool->log_ctx == NULL) {
            return ngx_edge_auth_store_refuse(shm_zone, store, 0, 0, 0);
        }

        ngx_sprintf(store->shpool->log_ctx,
                    " in credential store zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    /*
     * nginx -t: a new zone, thrown away at exit.  That the entries, hosts
     * and tokens fit was checked against the configuration (renew.c);
     * building them here would prove nothing and touch a page per eight
     * credentials.
     */

    if (ngx_test_config) {
        return NGX_OK;
    }

    n = store->wanted.nelts;
    w = store->wanted.elts;

    sorted = ngx_alloc(ngx_max(n, 1) * sizeof(ngx_edge_auth_want_t *),
                       shm_zone->shm.log);
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        sorted[i] = &w[i];
    }

    ngx_qsort(sorted, n, sizeof(ngx_edge_auth_want_t *),
              ngx_edge_auth_store_want_cmp);

    now = ngx_edge_auth_now();

    ngx_shmtx_lock(&store->shpool->mutex);

    store->gen = ++store->sh->gen;

    live = ngx_edge_auth_store_live(store);
    keep = ngx_min(ngx_min(store->gen - 1, live), store->sh->floor);

    for (q = ngx_queue_head(&store->sh->entries);
         q != ngx_queue_sentinel(&store->sh->entries);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_edge_auth_entry_t, queue);

        ngx_memcpy(key.key, e->key, NGX_EDGE_AUTH_KEY_LEN);
        w = &key;

        found = bsearch(&w, sorted, n, sizeof(ngx_edge_auth_want_t *),
                        ngx_edge_auth_store_want_cmp);

        if (found) {
            e->used = store->gen;
            *(*found)->entry = e;
            continue;
        }

        if (e->used < keep) {
            ngx_queue_remove(q);

            ngx_edge_auth_store_free(store, e->token, e->token_len);
            ngx_edge_auth_store_free(store, e->refresh, e->refresh_len);
            ngx_slab_free_locked(store->shpool, e);
            continue;
        }

        ngx_edge_auth_store_retire(store, e, now);
    }

    /* the new fingerprints: all of them or none */

    more = 0;

    for (i = 0; i < n; i++) {
        more += (*sorted[i]->entry == NULL);
    }

    made = 0;

    /* a full zone is said once, below, with what it lacks */

    for (i = 0; i < n; i++) {
        if (*sorted[i]->entry) {
            continue;
        }

        e = ngx_slab_calloc_locked(store->shpool,
                                   sizeof(ngx_edge_auth_entry_t));
        if (e == NULL) {
            (void) ngx_edge_auth_store_refuse(shm_zone, store, more, made,
                                              ostore != NULL);
            ngx_shmtx_unlock(&store->shpool->mutex);
            ngx_free(sorted);
            return NGX_ERROR;
        }

        ngx_memcpy(e->key, sorted[i]->key, NGX_EDGE_AUTH_KEY_LEN);
        e->generation = 1;
        e->used = store->gen;

        ngx_queue_insert_tail(&store->sh->entries, &e->queue);
        made++;

        *sorted[i]->entry = e;

        /* the same fingerprint twice shares its entry */

        while (i + 1 < n
               && ngx_memcmp(sorted[i + 1]->key, e->key,
                             NGX_EDGE_AUTH_KEY_LEN) == 0)
        {
            *sorted[++i]->entry = e;
        }
    }

    ngx_free(sorted);

    if (ngx_edge_auth_store_init_hosts(store) != NGX_OK) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "credential store zone \"%V\" is full: no room for "
                      "the login hosts' connection slots; reload refused",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


/*
 * Under the lock: every login host its slots.  A host stays when no
 * credential names it any more: an old worker may still hold one of its
 * slots, and a record is small.  A higher cap gets a larger array (the
 * slots held move with their index); a lower one keeps the array and
 * hands out fewer.
 */

static ngx_int_t
ngx_edge_auth_store_init_hosts(ngx_edge_auth_store_t *store)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_edge_auth_slot_t       *slots;
    ngx_edge_auth_host_t       *h;
    ngx_edge_auth_host_want_t  *want;

    want = store->hosts.elts;

    for (i = 0; i < store->hosts.nelts; i++) {

        h = NULL;

        for (q = ngx_queue_head(&store->sh->hosts);
             q != ngx_queue_sentinel(&store->sh->hosts);
             q = ngx_queue_next(q))
        {
            h = ngx_queue_data(q, ngx_edge_auth_host_t, queue);

            if (h->len == want[i].name.len
                && ngx_memcmp(h->name, want[i].name.data, h->len) == 0)
            {
                break;
            }

            h = NULL;
        }

        if (h == NULL) {
            h = ngx_slab_calloc_locked(store->shpool,
                                       sizeof(ngx_edge_auth_host_t)
                                       + want[i].name.len);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->len = want[i].name.len;
            ngx_memcpy(h->name, want[i].name.data, h->len);

            ngx_queue_insert_tail(&store->sh->hosts, &h->queue);
        }

        if (want[i].cap > h->nslots) {
            slots = ngx_slab_calloc_locked(store->shpool,
                                           want[i].cap
                                           * sizeof(ngx_edge_auth_slot_t));
            if (slots == NULL) {
                return NGX_ERROR;
            }

            if (h->slots) {
                ngx_memcpy(slots, h->slots,
                           h->nslots * sizeof(ngx_edge_auth_slot_t));
                ngx_slab_free_locked(store->shpool, h->slots);
            }

            h->slots = slots;
            h->nslots = want[i].cap;
        }

        h->cap = want[i].cap;

        *want[i].host = h;
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_edge_auth_store_want_cmp(const void *one, const void *two)
{
    ngx_edge_auth_want_t * const  *a = one;
    ngx_edge_auth_want_t * const  *b = two;

    return ngx_memcmp((*a)->key, (*b)->key, NGX_EDGE_AUTH_KEY_LEN);
}


/*
 * Under the lock: the zone cannot hold the configuration's new entries.
 * The ones made by this configuration go again (a refused reload leaves
 * the zone as it found it, but for what it could free), and one line
 * says why: nginx itself says nothing when a zone fails to initialize.
 */

static ngx_int_t
ngx_edge_auth_store_refuse(ngx_shm_zone_t *shm_zone,
    ngx_edge_auth_store_t *store, ngx_uint_t more, ngx_uint_t made,
    ngx_uint_t reload)
{
    size_t                  size;
    ngx_queue_t            *q;
    ngx_edge_auth_entry_t  *e;

    /* the entries this configuration made are at the queue's tail */

    while (made--) {
        q = ngx_queue_last(&store->sh->entries);
        e = ngx_queue_data(q, ngx_edge_auth_entry_t, queue);

        ngx_queue_remove(q);
        ngx_slab_free_locked(store->shpool, e);
    }

    /* a slab slot: the entry's size to the next power of two */

    for (size = 8; size < sizeof(ngx_edge_auth_entry_t); size <<= 1) {
        /* void */
    }

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "credential store zone \"%V\" is full, %uz bytes needed "
                  "for %ui new credentials; %s refused (entries of retired "
                  "credentials are freed once the workers that used them "
                  "have exited; or make the zone larger)",
                  &shm_zone->shm.name, ngx_max(more, 1) * size, more,
                  reload ? "reload" : "configuration");

    return NGX_ERROR;
}


/*
 * Under the lock: the smallest generation of a live worker, forgetting
 * the workers that died without detaching (a crash, SIGKILL).
 */

static ngx_uint_t
ngx_edge_auth_store_live(ngx_edge_auth_store_t *store)
{
    ngx_uint_t               live;
    ngx_queue_t             *q, *next;
    ngx_edge_auth_worker_t  *wk;

    live = NGX_MAX_UINT32_VALUE;

    for (q = ngx_queue_head(&store->sh->workers);
         q != ngx_queue_sentinel(&store->sh->workers);
         q = next)
    {
        next = ngx_queue_next(q);
        wk = ngx_queue_data(q, ngx_edge_auth_worker_t, queue);

        if (wk->pid != ngx_pid && kill(wk->pid, 0) == -1
            && ngx_errno == NGX_ESRCH)
        {
            ngx_queue_remove(q);
            ngx_slab_free_locked(store->shpool, wk);
            continue;
        }

        live = ngx_min(live, wk->gen);
    }

    return live;
}


ngx_int_t
ngx_edge_auth_store_attach(ngx_edge_auth_store_t *store, ngx_log_t *log)
{
    ngx_edge_auth_worker_t  *wk;

    ngx_shmtx_lock(&store->shpool->mutex);

    (void) ngx_edge_auth_store_live(store);

    wk = ngx_slab_alloc_locked(store->shpool,
                               sizeof(ngx_edge_auth_worker_t));

    if (wk == NULL) {
        /* unknown to the others: nothing this worker may use goes */
        store->sh->floor = ngx_min(store->sh->floor, store->gen);
        ngx_shmtx_unlock(&store->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "credential store zone \"%V\" is full: this worker "
                      "is not recorded, and entries of retired credentials "
                      "stay until a restart", &store->name);
        return NGX_OK;
    }

    wk->pid = ngx_pid;
    wk->gen = store->gen;
    ngx_queue_insert_tail(&store->sh->workers, &wk->queue);

    ngx_shmtx_unlock(&store->shpool->mutex);

    ngx_edge_auth_store_me = wk;

    return NGX_OK;
}


void
ngx_edge_auth_store_detach(ngx_edge_auth_store_t *store)
{
    if (ngx_edge_auth_store_me == NULL) {
        return;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    if (ngx_edge_auth_store_me->pid == ngx_pid) {
        ngx_queue_remove(&ngx_edge_auth_store_me->queue);
        ngx_slab_free_locked(store->shpool, ngx_edge_auth_store_me);
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    ngx_edge_auth_store_me = NULL;
}


/*
 * Under the lock: an entry that the newest configuration does not want,
 * but that older workers may still use: its token goes once expired.
 */

static void
ngx_edge_auth_store_retire(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, int64_t now)
{
    if (e->token == NULL || now < e->expires) {
        return;
    }

    ngx_edge_auth_store_free(store, e->token, e->token_len);
    ngx_edge_auth_store_free(store, e->refresh, e->refresh_len);

    e->token = NULL;
    e->token_len = 0;
    e->refresh = NULL;
    e->refresh_len = 0;
    e->state = NGX_EDGE_AUTH_TOKEN_NONE;
    e->generation++;
}


void
ngx_edge_auth_store_lock(ngx_edge_auth_store_t *store)
{
    ngx_shmtx_lock(&store->shpool->mutex);
}


void
ngx_edge_auth_store_unlock(ngx_edge_auth_store_t *store)
{
    ngx_shmtx_unlock(&store->shpool->mutex);
}


ngx_int_t
ngx_edge_auth_store_set_token(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *token, ngx_str_t *refresh,
    int64_t expires)
{
    u_char  version[NGX_EDGE_AUTH_VERSION_LEN];

    if (RAND_bytes(version, NGX_EDGE_AUTH_VERSION_LEN) != 1) {
        return NGX_ERROR;
    }

    return ngx_edge_auth_store_adopt(store, e, token, refresh, expires,
                                     ngx_edge_auth_now(), version);
}


ngx_int_t
ngx_edge_auth_store_set_refresh(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *refresh)
{
    u_char  *r;
    u_char   version[NGX_EDGE_AUTH_VERSION_LEN];

    if (RAND_bytes(version, NGX_EDGE_AUTH_VERSION_LEN) != 1) {
        return NGX_ERROR;
    }

    r = ngx_edge_auth_store_copy(store, refresh);
    if (r == NULL) {
        return NGX_ERROR;
    }

    ngx_edge_auth_store_free(store, e->refresh, e->refresh_len);

    e->refresh = r;
    e->refresh_len = refresh->len;
    ngx_memcpy(e->version, version, NGX_EDGE_AUTH_VERSION_LEN);

    ngx_edge_auth_store_changed(store, e);

    ngx_memory_barrier();
    e->generation++;

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_store_adopt(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *token, ngx_str_t *refresh,
    int64_t expires, int64_t issued, u_char *version)
{
    u_char  *t, *r;

    /* both copies first: a failure leaves the entry as it was */

    t = ngx_edge_auth_store_copy(store, token);
    if (t == NULL) {
        return NGX_ERROR;
    }

    r = NULL;

    if (refresh && refresh->len) {
        r = ngx_edge_auth_store_copy(store, refresh);
        if (r == NULL) {
            ngx_slab_free_locked(store->shpool, t);
            return NGX_ERROR;
        }
    }

    ngx_edge_auth_store_free(store, e->token, e->token_len);

    e->token = t;
    e->token_len = token->len;

    if (r) {
        ngx_edge_auth_store_free(store, e->refresh, e->refresh_len);

        e->refresh = r;
        e->refresh_len = refresh->len;
    }

    e->expires = expires;
    e->issued = issued;
    ngx_memcpy(e->version, version, NGX_EDGE_AUTH_VERSION_LEN);
    e->state = NGX_EDGE_AUTH_TOKEN_VALID;
    e->last_used = ngx_time();

    ngx_edge_auth_store_changed(store, e);

    /* last: a reader that sees the new generation sees all of the above */
    ngx_memory_barrier();
    e->generation++;

    return NGX_OK;
}


/* under the lock */

static void
ngx_edge_auth_store_changed(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e)
{
    ngx_edge_auth_store_sh_t  *sh;

    sh = store->sh;

    sh->changed[sh->changes % NGX_EDGE_AUTH_STORE_CHANGED] = e;

    /* a reader without the lock that sees the count finds the entry */
    ngx_memory_barrier();
    sh->changes++;
}


ngx_int_t
ngx_edge_auth_store_changes(ngx_edge_auth_store_t *store,
    ngx_atomic_uint_t *seen, ngx_edge_auth_entry_t **changed, ngx_uint_t *n)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, count;
    ngx_atomic_uint_t          now;
    ngx_edge_auth_store_sh_t  *sh;

    sh = store->sh;
    *n = 0;

    if (sh->changes == *seen) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    now = sh->changes;
    count = (ngx_uint_t) (now - *seen);
    rc = NGX_OK;

    if (count > NGX_EDGE_AUTH_STORE_CHANGED) {
        rc = NGX_DECLINED;

    } else {
        for (i = 0; i < count; i++) {
            changed[i] = sh->changed[(*seen + i)
                                     % NGX_EDGE_AUTH_STORE_CHANGED];
        }

        *n = count;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    *seen = now;

    return rc;
}


static u_char *
ngx_edge_auth_store_copy(ngx_edge_auth_store_t *store, ngx_str_t *value)
{
    u_char  *p;

    p = ngx_slab_alloc_locked(store->shpool, value->len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, value->data, value->len);

    return p;
}


static void
ngx_edge_auth_store_free(ngx_edge_auth_store_t *store, u_char *p, size_t len)
{
    if (p) {
        ngx_explicit_memzero(p, len);
        ngx_slab_free_locked(store->shpool, p);
    }
}


/*
 * Under the lock: the node's login lock, one login per token and host.
 * A lock whose owner died (a killed worker) or whose deadline passed is
 * taken over; *owner says whose it was.
 */

ngx_uint_t
ngx_edge_auth_store_login_lock(ngx_edge_auth_entry_t *e, int64_t now,
    int64_t deadline, ngx_pid_t *owner)
{
    *owner = e->lock_owner;

    if (*owner && now < e->lock_deadline
        && (kill(*owner, 0) == 0 || ngx_errno != NGX_ESRCH))
    {
        return 0;
    }

    e->lock_owner = ngx_pid;
    e->lock_deadline = deadline;

    return 1;
}


/*
 * Under the lock.  A first pass without a system call: a slot that is
 * free or past its deadline; when all are held, a second one takes the
 * slot of a process that died (a killed worker).
 */

ngx_int_t
ngx_edge_auth_store_slot_take(ngx_edge_auth_host_t *host, int64_t now,
    int64_t deadline)
{
    ngx_int_t              slot;
    ngx_uint_t             i, held;
    ngx_edge_auth_slot_t  *s;

    slot = NGX_DECLINED;
    held = 0;

    for (i = 0; i < host->nslots; i++) {
        s = &host->slots[i];

        if (s->pid && now < s->deadline) {
            held++;

        } else if (slot == NGX_DECLINED) {
            slot = i;
        }
    }

    if (held >= host->cap) {
        slot = NGX_DECLINED;
        held = 0;

        for (i = 0; i < host->nslots; i++) {
            s = &host->slots[i];

            if (s->pid && now < s->deadline
                && (s->pid == ngx_pid || kill(s->pid, 0) == 0
                    || ngx_errno != NGX_ESRCH))
            {
                held++;

            } else if (slot == NGX_DECLINED) {
                slot = i;
            }
        }

        if (held >= host->cap) {
            return NGX_DECLINED;
        }
    }

    s = &host->slots[slot];
    s->pid = ngx_pid;
    s->deadline = deadline;

    return slot;
}


void
ngx_edge_auth_store_slot_free(ngx_edge_auth_host_t *host, ngx_int_t slot)
{
    if (slot >= 0 && (ngx_uint_t) slot < host->nslots
        && host->slots[slot].pid == ngx_pid)
    {
        host->slots[slot].pid = 0;
    }
}


/* under the lock: gives the login lock back if this process holds it */

void
ngx_edge_auth_store_login_unlock(ngx_edge_auth_entry_t *e)
{
    if (e->lock_owner == ngx_pid) {
        e->lock_owner = 0;
    }
}


void
ngx_edge_auth_store_drop_refresh(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e)
{
    ngx_edge_auth_store_free(store, e->refresh, e->refresh_len);

    e->refresh = NULL;
    e->refresh_len = 0;
}


void
ngx_edge_auth_store_needs_auth(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e)
{
    ngx_edge_auth_store_free(store, e->token, e->token_len);
    ngx_edge_auth_store_drop_refresh(store, e);

    e->token = NULL;
    e->token_len = 0;
    e->state = NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH;
    e->renew = 0;
    e->backoff = 0;

    ngx_memory_barrier();
    e->generation++;
}


ngx_int_t
ngx_edge_auth_store_refused(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_atomic_uint_t generation, int64_t now,
    ngx_msec_t interval)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&store->shpool->mutex);

    if (e->generation != generation
        || e->state != NGX_EDGE_AUTH_TOKEN_VALID)
    {
        rc = NGX_DECLINED;

    } else if (e->refused == generation) {
        rc = NGX_DONE;

    } else if (now < e->refusal_next) {
        rc = NGX_BUSY;

    } else {
        /* due, not invalid: requests go on with it until the new one */

        e->refused = generation;
        e->refusal_next = now + interval;

        if (e->renew > now) {
            e->renew = now;
        }

        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_edge_auth_store_read(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_edge_auth_token_t *copy, ngx_log_t *log)
{
    u_char  *p;

    if (copy->generation == e->generation) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    copy->generation = e->generation;
    copy->valid = (e->state == NGX_EDGE_AUTH_TOKEN_VALID);
    copy->expires = e->expires;
    copy->issued = e->issued;

    if (copy->valid) {
        p = ngx_alloc(e->token_len, log);
        if (p == NULL) {
            ngx_shmtx_unlock(&store->shpool->mutex);
            copy->generation = 0;
            return NGX_ERROR;
        }

        ngx_memcpy(p, e->token, e->token_len);

        if (copy->token.data) {
            ngx_explicit_memzero(copy->token.data, copy->token.len);
            ngx_free(copy->token.data);
        }

        copy->token.data = p;
        copy->token.len = e->token_len;
    }

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


int64_t
ngx_edge_auth_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}
