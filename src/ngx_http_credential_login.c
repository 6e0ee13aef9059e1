
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials that come from a login or token endpoint: the directives
 * that describe the login request, where the token is in the answer, how
 * long it lives and how it is applied; the request, built once at
 * configuration time; and the reading of the answer.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_http_credential.h"
#include "ngx_edge_auth_iso8601.h"
#include "ngx_edge_auth_json.h"
#include <ngx_sha1.h>

#include <jansson.h>


#define NGX_HTTP_CREDENTIAL_UA  "nginx-credential-module"


typedef struct {
    const char                  *name;
    size_t                       offset;
} ngx_http_credential_field_t;


static void *ngx_http_credential_field(ngx_http_credential_login_t *login,
    ngx_str_t *name, ngx_http_credential_field_t *fields);
static ngx_int_t ngx_http_credential_keyval(ngx_conf_t *cf,
    ngx_array_t *a, ngx_str_t *key, ngx_str_t *value, const char *what);
static ngx_int_t ngx_http_credential_login_ssl(ngx_conf_t *cf,
    ngx_http_credential_login_t *login);
static ngx_int_t ngx_http_credential_login_request(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_post(ngx_pool_t *pool,
    ngx_http_credential_login_t *login, ngx_edge_auth_url_t *url,
    ngx_str_t *type, ngx_str_t *body, ngx_str_t *request);
static ngx_int_t ngx_http_credential_form(ngx_pool_t *pool, ngx_array_t *a,
    ngx_str_t *body);
static ngx_int_t ngx_http_credential_json(ngx_pool_t *pool, ngx_array_t *a,
    ngx_str_t *body, ngx_log_t *log);
static ngx_int_t ngx_http_credential_answer_token(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, json_t *root,
    ngx_http_credential_source_t *src, ngx_str_t *token, const char **error);
static ngx_int_t ngx_http_credential_answer_expires(
    ngx_http_credential_login_t *login, json_t *root, int64_t now,
    int64_t *expires, const char **error);
static ngx_int_t ngx_http_credential_token_check(ngx_http_credential_t *cred,
    ngx_str_t *token, const char **error);


static ngx_http_credential_field_t  ngx_http_credential_times[] = {
    { "login_timeout", offsetof(ngx_http_credential_login_t, http.timeout) },
    { "login_wait", offsetof(ngx_http_credential_login_t, wait) },
    { "token_lifetime", offsetof(ngx_http_credential_login_t, lifetime) },
    { "token_max_lifetime",
      offsetof(ngx_http_credential_login_t, max_lifetime) },
    { "token_idle_timeout",
      offsetof(ngx_http_credential_login_t, idle_timeout) },
    { "token_renew_before",
      offsetof(ngx_http_credential_login_t, renew_before) },
    { NULL, 0 }
};


static ngx_http_credential_field_t  ngx_http_credential_flags[] = {
    { "login_ssl_verify", offsetof(ngx_http_credential_login_t, http.verify) },
    { NULL, 0 }
};


char *
ngx_http_credential_login(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->url.text.len) {
        return "is duplicate";
    }

    /* resolved after the http block, when a "resolver" is known or not */

    if (ngx_edge_auth_url_parse(cf, &value[1], &login->url, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_refresh(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->refresh_url.text.len) {
        return "is duplicate";
    }

    if (ngx_edge_auth_url_parse(cf, &value[1], &login->refresh_url, 0)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_body(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (ngx_strcmp(value[1].data, "json") == 0) {
        login->body_type = NGX_HTTP_CREDENTIAL_BODY_JSON;

    } else if (ngx_strcmp(value[1].data, "form") == 0) {
        login->body_type = NGX_HTTP_CREDENTIAL_BODY_FORM;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid login_body \"%V\": expected \"json\" or "
                           "\"form\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* login_param and refresh_param: body fields, values may be secrets */

char *
ngx_http_credential_login_param(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_array_t                  *fields;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    fields = (ngx_strcmp(value[0].data, "refresh_param") == 0)
             ? &login->refresh_params : &login->params;

    if (ngx_http_credential_keyval(cf, fields, &value[1], &value[2],
                                   (char *) value[0].data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_header(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    /* the login request's framing is the module's own */

    if (ngx_http_credential_check_name(cf, &value[1]) != NGX_OK
        || (value[1].len == sizeof("Content-Type") - 1
            && ngx_strncasecmp(value[1].data, (u_char *) "Content-Type",
                               value[1].len) == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "header \"%V\" cannot be set by login_header",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_credential_keyval(cf, &login->headers, &value[1], &value[2],
                                   "login_header")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_basic(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_str_t                     user, password;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->basic.len) {
        return "is duplicate";
    }

    if (ngx_edge_auth_secret(cf, &value[1], &user, "login_basic user")
        != NGX_OK
        || ngx_edge_auth_secret(cf, &value[2], &password,
                                "login_basic password")
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* RFC 6749 2.3.1: both form-urlencoded before the Basic encoding */

    if (ngx_edge_auth_basic(cf, &user, &password, 1, &login->basic)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_time(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_msec_t                   *field, t;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    field = ngx_http_credential_field(login, &value[0],
                                      ngx_http_credential_times);

    if (*field != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    t = ngx_parse_time(&value[1], 0);

    if (t == (ngx_msec_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\"", &value[1],
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    *field = t;

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_size(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ssize_t                       size;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->http.max_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    size = ngx_parse_size(&value[1]);

    if (size < 1024 || size > 16 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid login_max_size \"%V\": from 1k to 16m",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    login->http.max_size = size;

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_flag(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_flag_t                   *field;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    field = ngx_http_credential_field(login, &value[0],
                                      ngx_http_credential_flags);

    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "on") == 0) {
        *field = 1;

    } else if (ngx_strcmp(value[1].data, "off") == 0) {
        *field = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\": it must be "
                           "\"on\" or \"off\"", &value[1], &value[0]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_cert(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->trusted_certificate.len) {
        return "is duplicate";
    }

    login->trusted_certificate = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_credential_login_backoff(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_msec_t                    min, max;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->backoff_min != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    min = ngx_parse_time(&value[1], 0);
    max = ngx_parse_time(&value[2], 0);

    if (min == (ngx_msec_t) NGX_ERROR || max == (ngx_msec_t) NGX_ERROR
        || min == 0 || max < min)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid login_backoff \"%V %V\": expected two "
                           "times, the first not zero and not above the "
                           "second", &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    login->backoff_min = min;
    login->backoff_max = max;

    return NGX_CONF_OK;
}


char *
ngx_http_credential_token_from(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_http_credential_login_t   *login;
    ngx_http_credential_source_t  *src;

    login = cred->login;

    src = (ngx_strcmp(value[0].data, "token_refresh_from") == 0)
          ? &login->refresh_from : &login->token;

    if (src->name.len) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "json") == 0) {
        src->from = NGX_HTTP_CREDENTIAL_FROM_JSON;

    } else if (ngx_strcmp(value[1].data, "header") == 0) {
        src->from = NGX_HTTP_CREDENTIAL_FROM_HEADER;

    } else if (ngx_strcmp(value[1].data, "cookie") == 0) {
        src->from = NGX_HTTP_CREDENTIAL_FROM_COOKIE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\": expected \"json\", "
                           "\"header\" or \"cookie\"", &value[0], &value[1]);
        return NGX_CONF_ERROR;
    }

    src->name = value[2];

    return NGX_CONF_OK;
}


char *
ngx_http_credential_token_expires(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    ngx_str_t                    *path;
    ngx_uint_t                    i;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (ngx_strcmp(value[0].data, "token_expires_at") == 0) {
        if (login->expires_at.len) {
            return "is duplicate";
        }

        login->expires_at = value[1];
        return NGX_CONF_OK;
    }

    /* token_expires_in FIELD ...: the first one present counts */

    if (login->expires_in.nelts) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        path = ngx_array_push(&login->expires_in);
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        *path = value[i];
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_token_header(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    u_char                       *p;
    ngx_http_credential_tmpl_t   *t;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    p = ngx_strlcasestrn(value[2].data, value[2].data + value[2].len,
                         (u_char *) "{token}", sizeof("{token}") - 2);

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "token_header \"%V\": the value must contain "
                           "\"{token}\", for example \"Bearer {token}\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    t = ngx_array_push(&login->inject);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->name = value[1];
    t->prefix.data = value[2].data;
    t->prefix.len = p - value[2].data;
    t->suffix.data = p + sizeof("{token}") - 1;
    t->suffix.len = value[2].data + value[2].len - t->suffix.data;

    for (p = value[2].data; p < value[2].data + value[2].len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "token_header \"%V\": the value contains a "
                               "control byte", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


char *
ngx_http_credential_token_cookie(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *value)
{
    u_char                       *p;
    ngx_http_credential_tmpl_t   *t;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= 0x20 || *p >= 0x7f || ngx_strchr("()<>@,;:\\\"/[]?={}", *p))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cookie name \"%V\" in token_cookie",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    t = ngx_array_push(&login->inject);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&t->name, "Cookie");

    t->prefix.len = value[1].len + 1;
    t->prefix.data = ngx_pnalloc(cf->pool, t->prefix.len);
    if (t->prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(t->prefix.data, "%V=", &value[1]);
    ngx_str_null(&t->suffix);

    return NGX_CONF_OK;
}


/* the first login or token directive of a block creates its login part */

ngx_http_credential_login_t *
ngx_http_credential_get_login(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    if (cred->login) {
        return cred->login;
    }

    login = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_login_t));
    if (login == NULL) {
        return NULL;
    }

    if (ngx_array_init(&login->params, cf->pool, 4, sizeof(ngx_keyval_t))
        != NGX_OK
        || ngx_array_init(&login->headers, cf->pool, 2, sizeof(ngx_keyval_t))
           != NGX_OK
        || ngx_array_init(&login->expires_in, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&login->inject, cf->pool, 2,
                          sizeof(ngx_http_credential_tmpl_t))
           != NGX_OK
        || ngx_array_init(&login->refresh_params, cf->pool, 2,
                          sizeof(ngx_keyval_t))
           != NGX_OK)
    {
        return NULL;
    }

    login->http.timeout = NGX_CONF_UNSET_MSEC;
    login->http.max_size = NGX_CONF_UNSET_SIZE;
    login->http.verify = NGX_CONF_UNSET;
    login->wait = NGX_CONF_UNSET_MSEC;
    login->lifetime = NGX_CONF_UNSET_MSEC;
    login->max_lifetime = NGX_CONF_UNSET_MSEC;
    login->idle_timeout = NGX_CONF_UNSET_MSEC;
    login->renew_before = NGX_CONF_UNSET_MSEC;
    login->backoff_min = NGX_CONF_UNSET_MSEC;
    login->backoff_max = NGX_CONF_UNSET_MSEC;

    cred->login = login;

    return login;
}


static void *
ngx_http_credential_field(ngx_http_credential_login_t *login, ngx_str_t *name,
    ngx_http_credential_field_t *fields)
{
    ngx_http_credential_field_t  *f;

    for (f = fields; f->name; f++) {
        if (ngx_strcmp(name->data, f->name) == 0) {
            break;
        }
    }

    /* the directive table only routes names that are listed here */
    return (u_char *) login + f->offset;
}


static ngx_int_t
ngx_http_credential_keyval(ngx_conf_t *cf, ngx_array_t *a, ngx_str_t *key,
    ngx_str_t *value, const char *what)
{
    u_char        *w;
    ngx_keyval_t  *kv;

    w = ngx_pnalloc(cf->temp_pool, ngx_strlen(what) + key->len + 4);
    if (w == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(w, "%s \"%V\"%Z", what, key);

    kv = ngx_array_push(a);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    kv->key = *key;

    return ngx_edge_auth_secret(cf, value, &kv->value, (char *) w);
}


/* called at the end of a credential block that has login directives */

ngx_int_t
ngx_http_credential_login_finish(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_sha1_t                    sha1;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->oauth && ngx_http_credential_oauth_finish(cf, cred) != NGX_OK) {
        return NGX_ERROR;
    }

    if (login->url.text.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" has login or token directives "
                           "but no \"login URL\"", &cred->name);
        return NGX_ERROR;
    }

    if (login->inject.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" logs in but applies no token: "
                           "add \"token_header\" or \"token_cookie\"",
                           &cred->name);
        return NGX_ERROR;
    }

    ngx_conf_init_msec_value(login->http.timeout, 10000);
    ngx_conf_init_size_value(login->http.max_size, 16384);
    ngx_conf_init_value(login->http.verify, 1);
    ngx_conf_init_msec_value(login->wait, 5000);
    ngx_conf_init_msec_value(login->lifetime, 300000);
    ngx_conf_init_msec_value(login->max_lifetime, 0);
    ngx_conf_init_msec_value(login->idle_timeout, 0);
    ngx_conf_init_msec_value(login->renew_before, 60000);
    ngx_conf_init_msec_value(login->backoff_min, 1000);
    ngx_conf_init_msec_value(login->backoff_max, 300000);

    if (login->token.name.len == 0) {
        login->token.from = NGX_HTTP_CREDENTIAL_FROM_JSON;
        ngx_str_set(&login->token.name, "access_token");
    }

    if (login->refresh_from.name.len == 0) {
        /* RFC 6749 5.1; read only when the answer has one */
        login->refresh_from.from = NGX_HTTP_CREDENTIAL_FROM_JSON;
        ngx_str_set(&login->refresh_from.name, "refresh_token");
    }

    if (login->refresh_url.ssl && !login->url.ssl
        && ngx_http_credential_login_ssl(cf, login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (login->expires_in.nelts == 0 && login->expires_at.len == 0) {
        ngx_str_t  *p;

        /* RFC 6749, and the camel case that some APIs write */

        p = ngx_array_push_n(&login->expires_in, 2);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&p[0], "expires_in");
        ngx_str_set(&p[1], "expiresIn");
    }

    if (login->max_lifetime && login->lifetime > login->max_lifetime) {
        login->lifetime = login->max_lifetime;
    }

    if (login->url.ssl && ngx_http_credential_login_ssl(cf, login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_credential_login_request(cf, cred) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the token's identity: a changed request is a different token */

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, cred->name.data, cred->name.len);
    ngx_sha1_update(&sha1, "\0", 1);
    ngx_sha1_update(&sha1, login->url.text.data, login->url.text.len);
    ngx_sha1_update(&sha1, "\0", 1);
    ngx_sha1_update(&sha1, login->request.data, login->request.len);
    ngx_sha1_final(login->key, &sha1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_login_ssl(ngx_conf_t *cf,
    ngx_http_credential_login_t *login)
{
#if (NGX_HTTP_SSL)
    ngx_pool_cleanup_t  *cln;

    login->http.ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (login->http.ssl == NULL) {
        return NGX_ERROR;
    }

    login->http.ssl->log = cf->log;

    if (ngx_ssl_create(login->http.ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(login->http.ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = login->http.ssl;

    if (login->trusted_certificate.len) {
        if (ngx_ssl_trusted_certificate(cf, login->http.ssl,
                                        &login->trusted_certificate, 4)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (SSL_CTX_set_default_verify_paths(login->http.ssl->ctx) != 1) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
#else
    return NGX_ERROR;
#endif
}


static ngx_int_t
ngx_http_credential_login_request(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_str_t                     body, type;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->body_type == NGX_HTTP_CREDENTIAL_BODY_JSON) {
        ngx_str_set(&type, "application/json");

        if (ngx_http_credential_json(cf->pool, &login->params, &body, cf->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        ngx_str_set(&type, "application/x-www-form-urlencoded");

        if (ngx_http_credential_form(cf->pool, &login->params, &body)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_credential_post(cf->pool, login, &login->url, &type,
                                    &body, &login->request);
}


/*
 * A POST to a login or refresh URL: the login's client authentication and
 * extra headers, then the body; one request per connection.
 */

static ngx_int_t
ngx_http_credential_post(ngx_pool_t *pool, ngx_http_credential_login_t *login,
    ngx_edge_auth_url_t *url, ngx_str_t *type, ngx_str_t *body,
    ngx_str_t *request)
{
    size_t         len;
    u_char        *p;
    ngx_uint_t     i;
    ngx_keyval_t  *h;

    len = sizeof("POST  HTTP/1.1" CRLF) - 1 + url->uri.len
          + sizeof("Host: " CRLF) - 1 + url->host_header.len
          + sizeof("User-Agent: " NGX_HTTP_CREDENTIAL_UA CRLF) - 1
          + sizeof("Accept: application/json, */*" CRLF) - 1
          + sizeof("Content-Type: " CRLF) - 1 + type->len
          + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN
          + sizeof("Connection: close" CRLF CRLF) - 1
          + body->len;

    if (login->basic.len) {
        len += sizeof("Authorization: " CRLF) - 1 + login->basic.len;
    }

    h = login->headers.elts;

    for (i = 0; i < login->headers.nelts; i++) {
        len += h[i].key.len + sizeof(": " CRLF) - 1 + h[i].value.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    request->data = p;

    p = ngx_sprintf(p, "POST %V HTTP/1.1" CRLF "Host: %V" CRLF
                    "User-Agent: " NGX_HTTP_CREDENTIAL_UA CRLF
                    "Accept: application/json, */*" CRLF
                    "Content-Type: %V" CRLF "Content-Length: %uz" CRLF,
                    &url->uri, &url->host_header, type, body->len);

    if (login->basic.len) {
        p = ngx_sprintf(p, "Authorization: %V" CRLF, &login->basic);
    }

    for (i = 0; i < login->headers.nelts; i++) {
        p = ngx_sprintf(p, "%V: %V" CRLF, &h[i].key, &h[i].value);
    }

    p = ngx_sprintf(p, "Connection: close" CRLF CRLF "%V", body);

    request->len = p - request->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_form(ngx_pool_t *pool, ngx_array_t *a, ngx_str_t *body)
{
    size_t         len;
    u_char        *p;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    kv = a->elts;
    len = 0;

    for (i = 0; i < a->nelts; i++) {
        len += kv[i].key.len + kv[i].value.len + 2
               + 2 * ngx_escape_uri(NULL, kv[i].key.data, kv[i].key.len,
                                    NGX_ESCAPE_URI_COMPONENT)
               + 2 * ngx_escape_uri(NULL, kv[i].value.data, kv[i].value.len,
                                    NGX_ESCAPE_URI_COMPONENT);
    }

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (i = 0; i < a->nelts; i++) {
        if (i) {
            *p++ = '&';
        }

        p = (u_char *) ngx_escape_uri(p, kv[i].key.data, kv[i].key.len,
                                      NGX_ESCAPE_URI_COMPONENT);
        *p++ = '=';
        p = (u_char *) ngx_escape_uri(p, kv[i].value.data, kv[i].value.len,
                                      NGX_ESCAPE_URI_COMPONENT);
    }

    body->len = p - body->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_json(ngx_pool_t *pool, ngx_array_t *a, ngx_str_t *body,
    ngx_log_t *log)
{
    char          *text;
    json_t        *obj, *v;
    ngx_int_t      rc;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    obj = json_object();
    if (obj == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    text = NULL;
    kv = a->elts;

    for (i = 0; i < a->nelts; i++) {
        v = json_stringn((char *) kv[i].value.data, kv[i].value.len);

        if (v == NULL) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "login_param \"%V\": a JSON body needs the value "
                          "in UTF-8", &kv[i].key);
            goto done;
        }

        if (json_object_setn_new_nocheck(obj, (char *) kv[i].key.data,
                                         kv[i].key.len, v)
            != 0)
        {
            goto done;
        }
    }

    text = json_dumps(obj, JSON_COMPACT|JSON_PRESERVE_ORDER);
    if (text == NULL) {
        goto done;
    }

    body->len = ngx_strlen(text);
    body->data = ngx_pnalloc(pool, body->len);
    if (body->data == NULL) {
        goto done;
    }

    ngx_memcpy(body->data, text, body->len);
    rc = NGX_OK;

done:

    if (text) {
        ngx_explicit_memzero(text, ngx_strlen(text));
        free(text);
    }

    json_decref(obj);

    return rc;
}


/*
 * Reads the token and its expiry from a successful (2xx) answer.
 * token->data lives in hc->pool.
 */

ngx_int_t
ngx_http_credential_login_answer(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, int64_t now, ngx_str_t *token,
    ngx_str_t *refresh, int64_t *expires, const char **error)
{
    json_t                       *root;
    ngx_int_t                     rc;
    json_error_t                  jerr;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    root = NULL;

    if (login->token.from == NGX_HTTP_CREDENTIAL_FROM_JSON
        || login->expires_at.len
        || hc->answer.body_len)
    {
        root = json_loadb((char *) hc->answer.body, hc->answer.body_len, 0,
                          &jerr);

        if (root && !json_is_object(root)) {
            json_decref(root);
            root = NULL;
        }

        if (root == NULL
            && (login->token.from == NGX_HTTP_CREDENTIAL_FROM_JSON
                || login->expires_at.len))
        {
            *error = "the answer is not a JSON object";
            return NGX_ERROR;
        }
    }

    rc = ngx_http_credential_answer_token(cred, hc, root, &login->token,
                                          token, error);

    if (rc == NGX_OK) {
        rc = ngx_http_credential_answer_expires(login, root, now, expires,
                                                error);
    }

    /* a refresh token is optional: absent means "log in next time" */

    ngx_str_null(refresh);

    if (rc == NGX_OK && login->refresh_url.text.len
        && ngx_http_credential_answer_token(cred, hc, root,
                                            &login->refresh_from, refresh,
                                            error)
           != NGX_OK)
    {
        ngx_str_null(refresh);
        *error = NULL;
    }

    if (root) {
        json_decref(root);
    }

    return rc;
}


static ngx_int_t
ngx_http_credential_answer_token(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, json_t *root,
    ngx_http_credential_source_t *src, ngx_str_t *token, const char **error)
{
    size_t                              n, len;
    json_t                             *v;
    const u_char                       *p, *end, *semi;
    const ngx_edge_auth_http_header_t  *h;

    switch (src->from) {

    case NGX_HTTP_CREDENTIAL_FROM_JSON:
        v = ngx_edge_auth_json_path(root, &src->name);

        if (v == NULL || !json_is_string(v)) {
            *error = "the answer has no token string where token_from says";
            return NGX_ERROR;
        }

        token->len = json_string_length(v);
        token->data = ngx_pnalloc(hc->pool, token->len + 1);
        if (token->data == NULL) {
            *error = "out of memory";
            return NGX_ERROR;
        }

        ngx_memcpy(token->data, json_string_value(v), token->len);
        break;

    case NGX_HTTP_CREDENTIAL_FROM_HEADER:
        h = NULL;

        for (n = 0; n < hc->answer.nheaders; n++) {
            if (hc->answer.headers[n].name_len == src->name.len
                && ngx_strncasecmp((u_char *) hc->answer.headers[n].name,
                                   src->name.data,
                                   src->name.len) == 0)
            {
                h = &hc->answer.headers[n];
                break;
            }
        }

        if (h == NULL) {
            *error = "the answer has no token header where token_from says";
            return NGX_ERROR;
        }

        token->data = (u_char *) h->value;
        token->len = h->value_len;
        break;

    default: /* NGX_HTTP_CREDENTIAL_FROM_COOKIE */

        len = src->name.len;
        token->len = 0;

        for (n = 0; n < hc->answer.nheaders; n++) {
            h = &hc->answer.headers[n];

            if (h->name_len != sizeof("Set-Cookie") - 1
                || ngx_strncasecmp((u_char *) h->name, (u_char *) "Set-Cookie",
                                   h->name_len) != 0)
            {
                continue;
            }

            p = h->value;
            end = h->value + h->value_len;

            if ((size_t) (end - p) <= len
                || ngx_strncmp(p, src->name.data, len) != 0
                || p[len] != '=')
            {
                continue;
            }

            p += len + 1;
            semi = ngx_strlchr((u_char *) p, (u_char *) end, ';');

            token->data = (u_char *) p;
            token->len = (semi ? semi : end) - p;
            break;
        }

        if (token->len == 0) {
            *error = "the answer sets no cookie where token_from says";
            return NGX_ERROR;
        }

        break;
    }

    return ngx_http_credential_token_check(cred, token, error);
}


static ngx_int_t
ngx_http_credential_answer_expires(ngx_http_credential_login_t *login,
    json_t *root, int64_t now, int64_t *expires, const char **error)
{
    json_t      *v;
    int64_t      lifetime, at;
    ngx_str_t   *path;
    ngx_uint_t   i;
    const char  *s;

    lifetime = -1;

    path = login->expires_in.elts;

    for (i = 0; root && lifetime < 0 && i < login->expires_in.nelts; i++) {
        v = ngx_edge_auth_json_path(root, &path[i]);

        if (v == NULL || json_is_null(v)) {
            continue;
        }

        /* seconds, checked before they become milliseconds */

        if (json_is_integer(v)) {
            lifetime = json_integer_value(v);

        } else if (json_is_real(v)) {
            lifetime = (json_real_value(v) >= 0
                        && json_real_value(v) <= 366.0 * 86400)
                       ? (int64_t) json_real_value(v) : -2;

        } else if (json_is_string(v)) {
            s = json_string_value(v);
            lifetime = ngx_atoi((u_char *) s, ngx_strlen(s));
            lifetime = (lifetime == NGX_ERROR) ? -2 : lifetime;

        } else {
            lifetime = -2;
        }

        if (lifetime >= 0 && lifetime <= (int64_t) 366 * 86400) {
            lifetime *= 1000;

        } else {
            *error = "the answer has an invalid expiry in seconds";
            return NGX_ERROR;
        }
    }

    if (lifetime < 0 && root && login->expires_at.len) {
        v = ngx_edge_auth_json_path(root, &login->expires_at);

        if (v) {
            if (!json_is_string(v)
                || ngx_edge_auth_iso8601_parse(
                       (u_char *) json_string_value(v),
                       json_string_length(v), &at) != 0)
            {
                *error = "the answer has an expiry date that is not "
                         "ISO-8601";
                return NGX_ERROR;
            }

            lifetime = at - now;

            if (lifetime <= 0) {
                *error = "the answer's token has already expired";
                return NGX_ERROR;
            }
        }
    }

    if (lifetime < 0) {
        lifetime = login->lifetime;
    }

    if (login->max_lifetime && lifetime > (int64_t) login->max_lifetime) {
        lifetime = login->max_lifetime;
    }

    if (lifetime == 0) {
        *error = "the answer's token has no lifetime";
        return NGX_ERROR;
    }

    *expires = now + lifetime;

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_token_check(ngx_http_credential_t *cred,
    ngx_str_t *token, const char **error)
{
    u_char                       *p;
    ngx_uint_t                    i;
    ngx_http_credential_tmpl_t   *t;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (token->len == 0) {
        *error = "the answer's token is empty";
        return NGX_ERROR;
    }

    if (token->len > NGX_EDGE_AUTH_TOKEN_MAX) {
        *error = "the answer's token is longer than 8192 bytes";
        return NGX_ERROR;
    }

    /* a token becomes a header: visible ASCII only, no CR, LF or NUL */

    for (p = token->data; p < token->data + token->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            *error = "the answer's token contains a control byte, a space "
                     "or a non-ASCII byte";
            return NGX_ERROR;
        }
    }

    t = login->inject.elts;

    for (i = 0; i < login->inject.nelts; i++) {
        if (t[i].name.len == sizeof("Cookie") - 1
            && ngx_strncasecmp(t[i].name.data, (u_char *) "Cookie",
                               t[i].name.len) == 0
            && (ngx_strlchr(token->data, token->data + token->len, ';')
                || ngx_strlchr(token->data, token->data + token->len, ',')
                || ngx_strlchr(token->data, token->data + token->len, '"')))
        {
            *error = "the answer's token cannot be a cookie value";
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The refresh request carries the refresh token, so it is built for each
 * renewal, in the login's own pool: form fields from refresh_param, then
 * refresh_token; the login's client authentication and headers as well.
 */

ngx_int_t
ngx_http_credential_refresh_request(ngx_http_credential_t *cred,
    ngx_pool_t *pool, ngx_str_t *refresh, ngx_str_t *request)
{
    ngx_str_t  name;

    ngx_str_set(&name, "refresh_token");

    return ngx_http_credential_form_request(cred->login, pool,
                                            &cred->login->refresh_url,
                                            &cred->login->refresh_params,
                                            &name, refresh, request);
}


/*
 * A form POST of the fields plus one value that is never kept: the
 * refresh token of a renewal, the code of an authorization-code exchange.
 */

ngx_int_t
ngx_http_credential_form_request(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_edge_auth_url_t *url, ngx_array_t *params,
    ngx_str_t *name, ngx_str_t *value, ngx_str_t *request)
{
    ngx_int_t      rc;
    ngx_str_t      body, type;
    ngx_array_t    fields;
    ngx_keyval_t  *kv;

    if (ngx_array_init(&fields, pool, params->nelts + 1,
                       sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    kv = ngx_array_push_n(&fields, params->nelts + 1);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(kv, params->elts, params->nelts * sizeof(ngx_keyval_t));

    kv += params->nelts;
    kv->key = *name;
    kv->value = *value;

    if (ngx_http_credential_form(pool, &fields, &body) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&type, "application/x-www-form-urlencoded");

    rc = ngx_http_credential_post(pool, login, url, &type, &body, request);

    /* the body holds the value; the request is zeroed after use */
    ngx_explicit_memzero(body.data, body.len);

    return rc;
}
