
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * proxy_cache and credentials: nginx -t warns where a location caches the
 * answers it fetches with a credential under a key that does not vary by
 * credential, and fails where the key would hold the injected secret.
 */


#ifndef _NGX_HTTP_CREDENTIAL_CACHE_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_CACHE_H_INCLUDED_


#include "ngx_http_credential_conf.h"


/* preconfiguration: record proxy_pass, proxy_cache, proxy_cache_key */
ngx_int_t ngx_http_credential_cache_init(ngx_conf_t *cf);
/* after the credential reference is merged: inherit, then check */
char *ngx_http_credential_cache_merge(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *prev,
    ngx_http_credential_loc_conf_t *conf);


#endif /* _NGX_HTTP_CREDENTIAL_CACHE_H_INCLUDED_ */
