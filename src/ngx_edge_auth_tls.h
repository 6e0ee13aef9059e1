
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * TLS for the module's own clients (login endpoints, Redis): a client
 * context that trusts the system's store or a given file and may present
 * a certificate, the server name sent (SNI), and the check that the peer
 * is the one named.
 */


#ifndef _NGX_EDGE_AUTH_TLS_H_INCLUDED_
#define _NGX_EDGE_AUTH_TLS_H_INCLUDED_


#include "ngx_edge_auth.h"


#if (NGX_HTTP_SSL)

/*
 * A client context freed with cf->pool.  trusted: empty for the system's
 * store; certificate and key: none, or both (the key loaded from memory,
 * see ngx_edge_auth_private_key).  what names the parameters in errors
 * ("login_ssl": "login_ssl_certificate ..."); a key that does not match
 * is reported at key_file:key_line when given.
 */
ngx_ssl_t *ngx_edge_auth_tls_create(ngx_conf_t *cf, const char *what,
    ngx_str_t *trusted, ngx_str_t *certificate, EVP_PKEY *key,
    ngx_str_t *key_file, ngx_uint_t key_line);

/* SNI, unless the name is an address literal (RFC 6066 3) */
ngx_int_t ngx_edge_auth_tls_server_name(ngx_connection_t *c,
    ngx_str_t *name);

/*
 * After the handshake: NULL when the chain is trusted and the certificate
 * names the host (a DNS name, or an IP address literal), else why not,
 * written into buf.
 */
u_char *ngx_edge_auth_tls_verify(ngx_connection_t *c, ngx_str_t *name,
    u_char *buf, size_t size);

#endif


#endif /* _NGX_EDGE_AUTH_TLS_H_INCLUDED_ */
