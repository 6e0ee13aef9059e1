
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * "NAME | off" references to blocks defined elsewhere in the http block.
 */


#ifndef _NGX_EDGE_AUTH_REF_H_INCLUDED_
#define _NGX_EDGE_AUTH_REF_H_INCLUDED_


#include "ngx_edge_auth.h"


/*
 * A directive argument that names a block defined elsewhere in the http
 * block ("credential NAME", "auth_ip_list NAME").  Blocks may be defined
 * after their first use, so names are resolved when location
 * configurations are merged, and errors then name the directive's own
 * file and line.
 */

typedef void *(*ngx_edge_auth_find_pt)(ngx_conf_t *cf, ngx_str_t *name);

typedef struct {
    ngx_str_t            name;      /* empty for "off" */
    u_char              *file;
    ngx_uint_t           line;
    void                *target;    /* resolved block, NULL for "off" */
    unsigned             set:1;
    unsigned             resolved:1;
} ngx_edge_auth_ref_t;


/*
 * Blocks by name, for configurations of thousands of them: a red-black
 * tree of (CRC32, name), so that each block defined or referred to costs
 * O(log N), not a walk of all the others.
 */

typedef struct {
    ngx_rbtree_t         tree;
    ngx_rbtree_node_t    sentinel;
    void                *free;      /* nodes allocated ahead */
    ngx_uint_t           nfree;
    ngx_uint_t           nalloc;
} ngx_edge_auth_names_t;


char *ngx_edge_auth_ref_set(ngx_conf_t *cf, ngx_edge_auth_ref_t *ref);
/* blocks is an array of pointers to structures that start with ngx_str_t */
void *ngx_edge_auth_find(ngx_array_t *blocks, ngx_str_t *name);

void ngx_edge_auth_names_init(ngx_edge_auth_names_t *names);
/* block starts with its ngx_str_t name, which must stay as it is */
ngx_int_t ngx_edge_auth_names_add(ngx_conf_t *cf,
    ngx_edge_auth_names_t *names, void *block);
void *ngx_edge_auth_names_find(ngx_edge_auth_names_t *names,
    ngx_str_t *name);
/*
 * The name of the block a location refers to, as a variable; data is the
 * module, whose location configuration starts with its ngx_edge_auth_ref_t.
 */
ngx_int_t ngx_edge_auth_ref_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_edge_auth_add_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
char *ngx_edge_auth_ref_merge(ngx_conf_t *cf, ngx_edge_auth_ref_t *conf,
    ngx_edge_auth_ref_t *prev, ngx_edge_auth_find_pt find, const char *what);


#endif /* _NGX_EDGE_AUTH_REF_H_INCLUDED_ */
