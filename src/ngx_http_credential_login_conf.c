
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The login and token directives of a credential block: a command table
 * with offsets into ngx_http_credential_login_t, nginx's own setters where
 * they fit; and the end of the block for them: defaults, TLS, and the
 * login request, which login.c builds once.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_http_credential_login_conf.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_jwt.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_tls.h"


static char *ngx_http_credential_url_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_credential_enum_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_enum(ngx_conf_t *cf,
    ngx_conf_enum_t *e, ngx_str_t *value, ngx_uint_t *result);
static char *ngx_http_credential_login_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_login_basic(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_login_assertion(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_http_credential_login_tls_t *ngx_http_credential_login_tls(
    ngx_conf_t *cf, ngx_http_credential_login_t *login);
static char *ngx_http_credential_login_tls_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_login_certificate_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_login_assertion_finish(ngx_conf_t *cf,
    ngx_http_credential_login_t *login);
static char *ngx_http_credential_login_backoff(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_token_margin(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_token_from(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_token_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_token_cookie(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_refused_status(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_login_ssl(ngx_conf_t *cf,
    ngx_http_credential_login_t *login);


/* RFC 6749, and the camel case that some APIs write */
static ngx_str_t  ngx_http_credential_expires_default[] = {
    ngx_string("expires_in"),
    ngx_string("expiresIn")
};

static ngx_uint_t  ngx_http_credential_refused_default[] = {
    NGX_HTTP_UNAUTHORIZED
};


/* a login without login_ssl_* directives: its defaults */
static ngx_http_credential_login_tls_t  ngx_http_credential_no_tls;


static ngx_conf_enum_t  ngx_http_credential_login_bodies[] = {
    { ngx_string("json"), NGX_HTTP_CREDENTIAL_BODY_JSON },
    { ngx_string("form"), NGX_HTTP_CREDENTIAL_BODY_FORM },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_credential_sources[] = {
    { ngx_string("json"), NGX_HTTP_CREDENTIAL_FROM_JSON },
    { ngx_string("header"), NGX_HTTP_CREDENTIAL_FROM_HEADER },
    { ngx_string("cookie"), NGX_HTTP_CREDENTIAL_FROM_COOKIE },
    { ngx_null_string, 0 }
};


static ngx_http_credential_bounds_t  ngx_http_credential_refused_interval = {
    ngx_http_credential_msec_bounds, 1000, 3600 * 1000,
    "invalid token_refused_interval \"%V\": from 1s to 1h"
};


static ngx_http_credential_bounds_t  ngx_http_credential_login_max_size = {
    ngx_http_credential_size_bounds, 1024, 16 * 1024 * 1024,
    "invalid login_max_size \"%V\": from 1k to 16m"
};


ngx_command_t  ngx_http_credential_login_commands[] = {

    { ngx_string("login"),
      NGX_CONF_TAKE1,
      ngx_http_credential_url_slot,
      0,
      offsetof(ngx_http_credential_login_t, url),
      NULL },

    { ngx_string("login_body"),
      NGX_CONF_TAKE1,
      ngx_http_credential_enum_slot,
      0,
      offsetof(ngx_http_credential_login_t, body_type),
      &ngx_http_credential_login_bodies },

    { ngx_string("login_param"),
      NGX_CONF_TAKE2,
      ngx_http_credential_keyval_slot,
      0,
      offsetof(ngx_http_credential_login_t, params),
      NULL },

    { ngx_string("login_header"),
      NGX_CONF_TAKE2,
      ngx_http_credential_login_header,
      0,
      offsetof(ngx_http_credential_login_t, headers),
      NULL },

    { ngx_string("login_basic"),
      NGX_CONF_TAKE2,
      ngx_http_credential_login_basic,
      0,
      offsetof(ngx_http_credential_login_t, basic),
      NULL },

    { ngx_string("login_client_assertion"),
      NGX_CONF_TAKE23,
      ngx_http_credential_login_assertion,
      0,
      offsetof(ngx_http_credential_login_t, assertion),
      NULL },

    { ngx_string("login_timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, http.timeout),
      NULL },

    { ngx_string("login_wait"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, wait),
      NULL },

    { ngx_string("login_backoff"),
      NGX_CONF_TAKE2,
      ngx_http_credential_login_backoff,
      0,
      0,
      NULL },

    { ngx_string("login_max_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_http_credential_login_t, http.max_size),
      &ngx_http_credential_login_max_size },

    { ngx_string("login_ssl_verify"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_http_credential_login_t, http.verify),
      NULL },

    { ngx_string("login_ssl_trusted_certificate"),
      NGX_CONF_TAKE1,
      ngx_http_credential_login_tls_slot,
      0,
      offsetof(ngx_http_credential_login_tls_t, trusted_certificate),
      NULL },

    { ngx_string("login_ssl_certificate"),
      NGX_CONF_TAKE1,
      ngx_http_credential_login_tls_slot,
      0,
      offsetof(ngx_http_credential_login_tls_t, certificate),
      NULL },

    { ngx_string("login_ssl_certificate_key"),
      NGX_CONF_TAKE1,
      ngx_http_credential_login_certificate_key,
      0,
      0,
      NULL },

    { ngx_string("token_from"),
      NGX_CONF_TAKE2,
      ngx_http_credential_token_from,
      0,
      offsetof(ngx_http_credential_login_t, token),
      NULL },

    { ngx_string("token_refresh_from"),
      NGX_CONF_TAKE2,
      ngx_http_credential_token_from,
      0,
      offsetof(ngx_http_credential_login_t, refresh_from),
      NULL },

    { ngx_string("token_expires_in"),
      NGX_CONF_1MORE,
      ngx_http_credential_list_slot,
      0,
      offsetof(ngx_http_credential_login_t, expires_in),
      NULL },

    { ngx_string("token_expires_at"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_credential_login_t, expires_at),
      NULL },

    { ngx_string("token_lifetime"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, lifetime),
      NULL },

    { ngx_string("token_max_lifetime"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, max_lifetime),
      NULL },

    { ngx_string("token_idle_timeout"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, idle_timeout),
      NULL },

    { ngx_string("token_renew_before"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, renew_before),
      NULL },

    { ngx_string("token_expiry_margin"),
      NGX_CONF_TAKE1,
      ngx_http_credential_token_margin,
      0,
      0,
      NULL },

    { ngx_string("token_header"),
      NGX_CONF_TAKE2,
      ngx_http_credential_token_header,
      0,
      offsetof(ngx_http_credential_login_t, inject),
      NULL },

    { ngx_string("token_cookie"),
      NGX_CONF_TAKE1,
      ngx_http_credential_token_cookie,
      0,
      offsetof(ngx_http_credential_login_t, cookie),
      NULL },

    { ngx_string("token_refused_status"),
      NGX_CONF_1MORE,
      ngx_http_credential_refused_status,
      0,
      offsetof(ngx_http_credential_login_t, refused_status),
      NULL },

    { ngx_string("token_refused_interval"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_login_t, refused_interval),
      &ngx_http_credential_refused_interval },

    { ngx_string("refresh"),
      NGX_CONF_TAKE1,
      ngx_http_credential_url_slot,
      0,
      offsetof(ngx_http_credential_login_t, refresh_url),
      NULL },

    { ngx_string("refresh_param"),
      NGX_CONF_TAKE2,
      ngx_http_credential_keyval_slot,
      0,
      offsetof(ngx_http_credential_login_t, refresh_params),
      NULL },

      ngx_null_command
};


/* the first login or token directive of a block creates its login part */

void *
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

    /*
     * The arrays that most blocks leave empty (headers, expires_in,
     * refresh_params, refused_status) stay without elements until their
     * directive comes (the setters create them): ten thousand credentials
     * are ten thousand of each.
     */

    if (ngx_array_init(&login->params, cf->pool, 4, sizeof(ngx_keyval_t))
        != NGX_OK
        || ngx_array_init(&login->inject, cf->pool, 1,
                          sizeof(ngx_http_credential_tmpl_t))
           != NGX_OK)
    {
        return NULL;
    }

    /* unset, so that the stock setters refuse a second one */

    login->body_type = NGX_CONF_UNSET_UINT;
    login->http.timeout = NGX_CONF_UNSET_MSEC;
    login->http.max_size = NGX_CONF_UNSET_SIZE;
    login->http.verify = NGX_CONF_UNSET;
    login->wait = NGX_CONF_UNSET_MSEC;
    login->lifetime = NGX_CONF_UNSET_MSEC;
    login->max_lifetime = NGX_CONF_UNSET_MSEC;
    login->idle_timeout = NGX_CONF_UNSET_MSEC;
    login->renew_before = NGX_CONF_UNSET_MSEC;
    login->margin = NGX_CONF_UNSET_MSEC;
    login->margin_percent = NGX_CONF_UNSET_UINT;
    login->backoff_min = NGX_CONF_UNSET_MSEC;
    login->backoff_max = NGX_CONF_UNSET_MSEC;
    login->refused_interval = NGX_CONF_UNSET_MSEC;

    cred->login = login;

    return login;
}


/* login, refresh: resolved after the http block, once "resolver" is known */

static char *
ngx_http_credential_url_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    void                             **parsed;
    ngx_str_t                         *value;
    ngx_edge_auth_url_t               *url, *u;
    ngx_http_credential_main_conf_t   *cmcf;

    url = (ngx_edge_auth_url_t *) (p + cmd->offset);

    if (url->text.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * Thousands of credentials log in at a few URLs: one parsed for an
     * earlier credential is copied, what its parse allocated shared (read
     * only); a host name is still resolved for each credential.
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    parsed = &cmcf->urls[ngx_crc32_short(value[1].data, value[1].len)
                         % NGX_HTTP_CREDENTIAL_URLS];
    u = *parsed;

    if (u && u->text.len == value[1].len
        && ngx_strncmp(u->text.data, value[1].data, value[1].len) == 0)
    {
        *url = *u;
        return NGX_CONF_OK;
    }

    if (ngx_edge_auth_url_parse(cf, &value[1], url, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *parsed = url;

    return NGX_CONF_OK;
}


/* ngx_conf_set_enum_slot, with a message that lists the values */

static char *
ngx_http_credential_enum_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_uint_t  *np, v;

    np = (ngx_uint_t *) (p + cmd->offset);

    /* a duplicate is the stock setter's to report */

    if (*np == NGX_CONF_UNSET_UINT
        && ngx_http_credential_enum(cf, cmd->post, cf->args->elts, &v)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_enum_slot(cf, cmd, conf);
}


/* value[1] among the names, exactly as written in the README */

static ngx_int_t
ngx_http_credential_enum(ngx_conf_t *cf, ngx_conf_enum_t *e,
    ngx_str_t *value, ngx_uint_t *result)
{
    u_char      *p, *last, expected[128];
    ngx_uint_t   i, n;

    for (n = 0; e[n].name.len; n++) {
        if (e[n].name.len == value[1].len
            && ngx_strncmp(e[n].name.data, value[1].data, value[1].len) == 0)
        {
            *result = e[n].value;
            return NGX_OK;
        }
    }

    /* "json", "header" or "cookie" */

    p = expected;
    last = expected + sizeof(expected);

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "%s\"%V\"",
                         (i == 0) ? "" : (i + 1 < n) ? ", " : " or ",
                         &e[i].name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid %V \"%V\": expected %*s",
                       &value[0], &value[1], (size_t) (p - expected),
                       expected);

    return NGX_ERROR;
}


static char *
ngx_http_credential_login_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

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

    return ngx_http_credential_keyval_slot(cf, cmd, conf);
}


static char *
ngx_http_credential_login_basic(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t  *basic, *value, user, password;

    basic = (ngx_str_t *) (p + cmd->offset);

    if (basic->len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_edge_auth_secret(cf, &value[1], &user, "login_basic user")
        != NGX_OK
        || ngx_edge_auth_secret(cf, &value[2], &password,
                                "login_basic password")
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* RFC 6749 2.3.1: both form-urlencoded before the Basic encoding */

    if (ngx_edge_auth_basic(cf, &user, &password, 1, basic) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * login_client_assertion hs256|rs256|es256 KEY [KID]: the key is read
 * and checked here, so that "nginx -t" names this line
 */

static char *
ngx_http_credential_login_assertion(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_login_t *login = conf;

    ngx_str_t  *value;

    if (login->assertion) {
        return "is duplicate";
    }

    value = cf->args->elts;

    login->assertion = ngx_pcalloc(cf->pool, sizeof(ngx_edge_auth_jwt_key_t));
    if (login->assertion == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_edge_auth_jwt_key(cf, &value[1], &value[2],
                              cf->args->nelts == 4 ? &value[3] : NULL,
                              login->assertion)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the TLS part, created by its first directive */

static ngx_http_credential_login_tls_t *
ngx_http_credential_login_tls(ngx_conf_t *cf,
    ngx_http_credential_login_t *login)
{
    if (login->tls == NULL) {
        login->tls = ngx_pcalloc(cf->pool,
                                 sizeof(ngx_http_credential_login_tls_t));
    }

    return login->tls;
}


/* login_ssl_trusted_certificate, login_ssl_certificate: stock, in the part */

static char *
ngx_http_credential_login_tls_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_login_tls_t  *tls;

    tls = ngx_http_credential_login_tls(cf, conf);
    if (tls == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_str_slot(cf, cmd, tls);
}


/*
 * login_ssl_certificate_key: a secret, so read from memory (nginx's own
 * loader takes a path, and logs a "data:" key it cannot load); matched
 * with the certificate when the block ends, at this line
 */

static char *
ngx_http_credential_login_certificate_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                        *value, pem;
    ngx_http_credential_login_tls_t  *tls;

    tls = ngx_http_credential_login_tls(cf, conf);
    if (tls == NULL) {
        return NGX_CONF_ERROR;
    }

    if (tls->certificate_key_line) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tls->certificate_key_file = cf->conf_file->file.name;
    tls->certificate_key_line = cf->conf_file->line;

    if (ngx_edge_auth_secret_bytes(cf, &value[1], &pem,
                                   "login_ssl_certificate_key")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* "nginx -s reload" reads no key (see ngx_edge_auth_secret) */

    if (ngx_process != NGX_PROCESS_SIGNALLER
        && ngx_edge_auth_private_key(cf, &pem, "login_ssl_certificate_key",
                                     &tls->certificate_key)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* two times that bound each other: no stock setter takes a pair */

static char *
ngx_http_credential_login_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_login_t *login = conf;

    ngx_str_t   *value;
    ngx_msec_t   min, max;

    if (login->backoff_min != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

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


/*
 * token_expiry_margin time | N%: a time is the margin itself; a
 * percentage of each token's lifetime is at least one second.  The time
 * and the floor are cut to half of a short lifetime when they apply
 * (ngx_http_credential_usable_end()), so that such a token is still used.
 */

static char *
ngx_http_credential_token_margin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_login_t *login = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (login->margin_percent != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len > 1 && value[1].data[value[1].len - 1] == '%') {
        n = ngx_atoi(value[1].data, value[1].len - 1);

        if (n == NGX_ERROR || n > 99) {
            goto invalid;
        }

        login->margin_percent = n;
        login->margin = 1000;

        return NGX_CONF_OK;
    }

    n = ngx_parse_time(&value[1], 0);

    if (n == NGX_ERROR) {
        goto invalid;
    }

    login->margin_percent = 0;
    login->margin = (ngx_msec_t) n;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid token_expiry_margin \"%V\": expected a time "
                       "or a percentage of the token's lifetime below 100%%",
                       &value[1]);

    return NGX_CONF_ERROR;
}


/* token_from, token_refresh_from: json PATH | header NAME | cookie NAME */

static char *
ngx_http_credential_token_from(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                     *value;
    ngx_http_credential_source_t  *src;

    src = (ngx_http_credential_source_t *) (p + cmd->offset);

    if (src->name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_credential_enum(cf, ngx_http_credential_sources, value,
                                 &src->from)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    src->name = value[2];

    return NGX_CONF_OK;
}


/* token_header NAME "PREFIX{token}SUFFIX": one per header name */

static char *
ngx_http_credential_token_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *c = conf;

    u_char                      *p;
    ngx_str_t                   *value;
    ngx_array_t                 *a;
    ngx_http_credential_tmpl_t  *t;

    a = (ngx_array_t *) (c + cmd->offset);
    value = cf->args->elts;

    p = ngx_strlcasestrn(value[2].data, value[2].data + value[2].len,
                         (u_char *) "{token}", sizeof("{token}") - 2);

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "token_header \"%V\": the value must contain "
                           "\"{token}\", for example \"Bearer {token}\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    t = ngx_array_push(a);
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


/*
 * token_cookie NAME: "Cookie: NAME=token", an RFC 6265 cookie name; in
 * the order of the block among the token_header headers
 */

static char *
ngx_http_credential_token_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_login_t *login = conf;

    u_char                      *p;
    char                        *rv;
    ngx_str_t                   *name;
    ngx_http_credential_tmpl_t  *t;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    name = &login->cookie;

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f || ngx_strchr("()<>@,;:\\\"/[]?={}", *p))
        {
            break;
        }
    }

    if (name->len == 0 || p < name->data + name->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cookie name \"%V\" in token_cookie",
                           name);
        return NGX_CONF_ERROR;
    }

    t = ngx_array_push(&login->inject);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&t->name, "Cookie");

    t->prefix.len = name->len + 1;
    t->prefix.data = ngx_pnalloc(cf->pool, t->prefix.len);
    if (t->prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(t->prefix.data, "%V=", name);
    ngx_str_null(&t->suffix);

    return NGX_CONF_OK;
}


/*
 * token_refused_status CODE ...: up to 8 HTTP statuses from 400 to 599
 * (the list setter keeps strings; the request path compares numbers)
 */

static char *
ngx_http_credential_refused_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t     n;
    ngx_str_t    *value;
    ngx_uint_t    i, *status;
    ngx_array_t  *a;

    a = (ngx_array_t *) (p + cmd->offset);

    if (a->nelts) {
        return "is duplicate";
    }

    if (ngx_http_credential_args_max(cf, 8) != NGX_OK
        || ngx_array_init(a, cf->pool, cf->args->nelts - 1,
                          sizeof(ngx_uint_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        n = ngx_atoi(value[i].data, value[i].len);

        if (n < 400 || n > 599) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid token_refused_status \"%V\": "
                               "expected an HTTP status from 400 to 599",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        status = ngx_array_push(a);
        if (status == NULL) {
            return NGX_CONF_ERROR;
        }

        *status = (ngx_uint_t) n;
    }

    return NGX_CONF_OK;
}


/* called at the end of a credential block that has login directives */

ngx_int_t
ngx_http_credential_login_finish(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t      *login;
    ngx_http_credential_login_tls_t  *tls;

    login = cred->login;

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

    ngx_conf_init_uint_value(login->body_type, NGX_HTTP_CREDENTIAL_BODY_FORM);
    ngx_conf_init_msec_value(login->http.timeout, 10000);
    ngx_conf_init_size_value(login->http.max_size, 16384);
    ngx_conf_init_value(login->http.verify, 1);
    ngx_conf_init_msec_value(login->wait, 5000);
    ngx_conf_init_msec_value(login->lifetime, 300000);
    ngx_conf_init_msec_value(login->max_lifetime, 0);
    ngx_conf_init_msec_value(login->idle_timeout, 0);
    ngx_conf_init_msec_value(login->renew_before, 60000);

    /* 5% of the lifetime, at least a second: the issue time rounded down */
    ngx_conf_init_uint_value(login->margin_percent, 5);
    ngx_conf_init_msec_value(login->margin, 1000);
    ngx_conf_init_msec_value(login->backoff_min, 1000);
    ngx_conf_init_msec_value(login->backoff_max, 300000);
    ngx_conf_init_msec_value(login->refused_interval, 5000);

    /* the defaults, one copy for every credential (nothing pushes later) */

    if (login->refused_status.nelts == 0) {
        login->refused_status.elts = ngx_http_credential_refused_default;
        login->refused_status.nelts = 1;
        login->refused_status.size = sizeof(ngx_uint_t);
        login->refused_status.nalloc = 1;
        login->refused_status.pool = cf->pool;
    }

    if (login->token.name.len == 0) {
        login->token.from = NGX_HTTP_CREDENTIAL_FROM_JSON;
        ngx_str_set(&login->token.name, "access_token");
    }

    if (login->refresh_from.name.len == 0) {
        /* RFC 6749 5.1; read only when the answer has one */
        login->refresh_from.from = NGX_HTTP_CREDENTIAL_FROM_JSON;
        ngx_str_set(&login->refresh_from.name, "refresh_token");
    }

    if (login->refresh_url.text.len && login->refresh_params.nelts == 0
        && ngx_http_credential_refresh_defaults(login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (login->refresh_url.ssl && !login->url.ssl
        && ngx_http_credential_login_ssl(cf, login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (login->expires_in.nelts == 0 && login->expires_at.len == 0) {
        login->expires_in.elts = ngx_http_credential_expires_default;
        login->expires_in.nelts = 2;
        login->expires_in.size = sizeof(ngx_str_t);
        login->expires_in.nalloc = 2;
        login->expires_in.pool = cf->pool;
    }

    if (login->max_lifetime && login->lifetime > login->max_lifetime) {
        login->lifetime = login->max_lifetime;
    }

    if (login->url.ssl && ngx_http_credential_login_ssl(cf, login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    tls = login->tls ? login->tls : &ngx_http_credential_no_tls;

    if ((tls->certificate.len != 0) != (tls->certificate_key_line != 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"login_ssl_certificate\" "
                           "and \"login_ssl_certificate_key\" go together",
                           &cred->name);
        return NGX_ERROR;
    }

    if (tls->certificate.len && !login->url.ssl && !login->refresh_url.ssl)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"login_ssl_certificate\" "
                           "needs an https login or refresh URL",
                           &cred->name);
        return NGX_ERROR;
    }

    if (login->assertion
        && ngx_http_credential_login_assertion_finish(cf, login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the request, and the token's identity (login->key) with it */

    return ngx_http_credential_login_request(cf, cred);
}


static ngx_int_t
ngx_http_credential_login_ssl(ngx_conf_t *cf,
    ngx_http_credential_login_t *login)
{
#if (NGX_HTTP_SSL)
    ngx_http_credential_login_tls_t  *tls;

    tls = login->tls ? login->tls : &ngx_http_credential_no_tls;

    login->http.ssl = ngx_edge_auth_tls_create(cf, "login_ssl",
                                               &tls->trusted_certificate,
                                               &tls->certificate,
                                               tls->certificate_key,
                                               &tls->certificate_key_file,
                                               tls->certificate_key_line);

    return login->http.ssl ? NGX_OK : NGX_ERROR;
#else
    return NGX_ERROR;
#endif
}


/*
 * A client that signs assertions authenticates with them alone (RFC 7523
 * 2.2, OpenID Connect Core 9): no client secret beside them; iss and sub
 * are its client_id, taken from "login_param client_id".
 */

static ngx_int_t
ngx_http_credential_login_assertion_finish(ngx_conf_t *cf,
    ngx_http_credential_login_t *login)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (login->body_type != NGX_HTTP_CREDENTIAL_BODY_FORM) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "login_client_assertion needs \"login_body "
                           "form\": the assertion is a form field");
        return NGX_ERROR;
    }

    if (login->basic.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "login_client_assertion and login_basic are two "
                           "client authentications: keep one");
        return NGX_ERROR;
    }

    kv = login->params.elts;

    for (i = 0; i < login->params.nelts; i++) {
        if (kv[i].key.len == sizeof("client_id") - 1
            && ngx_strncmp(kv[i].key.data, "client_id", kv[i].key.len) == 0)
        {
            login->client_id = kv[i].value;
            continue;
        }

        if ((kv[i].key.len == sizeof("client_secret") - 1
             && ngx_strncmp(kv[i].key.data, "client_secret", kv[i].key.len)
                == 0)
            || (kv[i].key.len >= sizeof("client_assertion") - 1
                && ngx_strncmp(kv[i].key.data, "client_assertion",
                               sizeof("client_assertion") - 1) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "login_client_assertion: \"login_param %V\" "
                               "is not sent beside an assertion",
                               &kv[i].key);
            return NGX_ERROR;
        }
    }

    if (login->client_id.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "login_client_assertion needs \"login_param "
                           "client_id ID\": the assertion's issuer and "
                           "subject");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Without any refresh_param, a refresh is RFC 6749 section 6's:
 * grant_type=refresh_token and the client authentication of the login
 * (its client_id and client_secret fields; login_basic goes with every
 * request anyway).  One refresh_param line and the operator writes the
 * form: partners such as Octorate that want another one keep theirs.
 */

ngx_int_t
ngx_http_credential_refresh_defaults(ngx_http_credential_login_t *login)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv, *p;

    /* the configuration's pool: the one of the params, always there */

    if (ngx_array_init(&login->refresh_params, login->params.pool, 3,
                       sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    kv = ngx_array_push(&login->refresh_params);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&kv->key, "grant_type");
    ngx_str_set(&kv->value, "refresh_token");

    for (i = 0; i < login->params.nelts; i++) {
        p = (ngx_keyval_t *) login->params.elts + i;

        if ((p->key.len == sizeof("client_id") - 1
             && ngx_strncmp(p->key.data, "client_id", p->key.len) == 0)
            || (p->key.len == sizeof("client_secret") - 1
                && ngx_strncmp(p->key.data, "client_secret", p->key.len)
                   == 0))
        {
            kv = ngx_array_push(&login->refresh_params);
            if (kv == NULL) {
                return NGX_ERROR;
            }

            *kv = *p;
        }
    }

    return NGX_OK;
}
