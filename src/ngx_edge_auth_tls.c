
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_tls.h"


#if (NGX_HTTP_SSL)

static ngx_uint_t ngx_edge_auth_tls_address(ngx_str_t *name);


ngx_ssl_t *
ngx_edge_auth_tls_create(ngx_conf_t *cf, const char *what, ngx_str_t *trusted,
    ngx_str_t *certificate, EVP_PKEY *key, ngx_str_t *key_file,
    ngx_uint_t key_line)
{
    ngx_str_t            file;
    ngx_uint_t           line;
    ngx_ssl_t           *ssl;
    ngx_pool_cleanup_t  *cln;

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NULL;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK)
    {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NULL;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (trusted->len) {
        if (ngx_ssl_trusted_certificate(cf, ssl, trusted, 4) != NGX_OK) {
            return NULL;
        }

    } else if (SSL_CTX_set_default_verify_paths(ssl->ctx) != 1) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NULL;
    }

    if (certificate->len == 0 || key == NULL) {
        return ssl;
    }

    /* the certificate is what authenticates the client (RFC 8705 2.1) */

    if (ngx_conf_full_name(cf->cycle, certificate, 1) != NGX_OK) {
        return NULL;
    }

    if (SSL_CTX_use_certificate_chain_file(ssl->ctx,
                                           (char *) certificate->data)
        != 1)
    {
        ERR_clear_error();
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot load %s_certificate \"%V\": not a "
                           "readable PEM certificate (chain)",
                           what, certificate);
        return NULL;
    }

    if (SSL_CTX_use_PrivateKey(ssl->ctx, key) != 1
        || SSL_CTX_check_private_key(ssl->ctx) != 1)
    {
        ERR_clear_error();

        /* at the key's line, when it has one of its own */

        file = cf->conf_file->file.name;
        line = cf->conf_file->line;

        if (key_line) {
            cf->conf_file->file.name = *key_file;
            cf->conf_file->line = key_line;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s_certificate_key does not match the "
                           "certificate \"%V\"", what, certificate);

        cf->conf_file->file.name = file;
        cf->conf_file->line = line;

        return NULL;
    }

    return ssl;
}


ngx_int_t
ngx_edge_auth_tls_server_name(ngx_connection_t *c, ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || ngx_edge_auth_tls_address(name)) {
        return NGX_OK;
    }

    p = ngx_pnalloc(c->pool, name->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(p, name->data, name->len + 1);

    if (SSL_set_tlsext_host_name(c->ssl->connection, (char *) p) != 1) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


u_char *
ngx_edge_auth_tls_verify(ngx_connection_t *c, ngx_str_t *name, u_char *buf,
    size_t size)
{
    int      ok;
    long     rc;
    u_char  *p, ip[NGX_SOCKADDR_STRLEN + 1];
    X509    *cert;

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        p = ngx_slprintf(buf, buf + size - 1,
                         "certificate verify failed: %s",
                         X509_verify_cert_error_string(rc));
        *p = '\0';
        return buf;
    }

    /* a name, or an address that the certificate must list as such */

    if (ngx_edge_auth_tls_address(name)) {
        cert = SSL_get_peer_certificate(c->ssl->connection);
        ok = 0;

        if (cert && name->len < sizeof(ip)) {
            p = name->data;

            if (p[0] == '[') {
                (void) ngx_cpystrn(ip, p + 1, name->len - 1);

            } else {
                (void) ngx_cpystrn(ip, p, name->len + 1);
            }

            ok = (X509_check_ip_asc(cert, (char *) ip, 0) == 1);
        }

        if (cert) {
            X509_free(cert);
        }

    } else {
        ok = (ngx_ssl_check_host(c, name) == NGX_OK);
    }

    if (!ok) {
        ERR_clear_error();
        p = ngx_slprintf(buf, buf + size - 1,
                         "the certificate does not name \"%V\"", name);
        *p = '\0';
        return buf;
    }

    return NULL;
}


/* "127.0.0.1", "[::1]": no SNI, and checked as an address */

static ngx_uint_t
ngx_edge_auth_tls_address(ngx_str_t *name)
{
    if (name->len && name->data[0] == '[') {
        return 1;
    }

    return ngx_inet_addr(name->data, name->len) != INADDR_NONE;
}

#endif
