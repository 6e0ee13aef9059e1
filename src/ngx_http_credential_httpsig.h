
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * HTTP Message Signatures (RFC 9421) of each proxied request:
 * "http_signature" and its directives inside a credential block, and the
 * signature of a request as the upstream will see it.
 */


#ifndef _NGX_HTTP_CREDENTIAL_HTTPSIG_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_HTTPSIG_H_INCLUDED_


#include "ngx_http_credential_conf.h"


extern ngx_command_t  ngx_http_credential_httpsig_commands[];

void *ngx_http_credential_get_httpsig(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
/* the checks at the end of a credential block; its secret registered */
ngx_int_t ngx_http_credential_httpsig_finish(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);

/*
 * Signature-Input, Signature and, when "content-digest" is covered,
 * Content-Digest in *extra: NGX_OK; NGX_DONE while the body is read for
 * its digest (the phases run again when it is); or an HTTP status.
 */
ngx_int_t ngx_http_credential_httpsig_sign(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t **extra,
    ngx_uint_t *nextra);


#endif /* _NGX_HTTP_CREDENTIAL_HTTPSIG_H_INCLUDED_ */
