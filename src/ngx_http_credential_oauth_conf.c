
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The directives of the authorization-code flow: those inside a credential
 * block, as a command table with offsets into ngx_http_credential_oauth_t;
 * credential_connect and credential_callback, which make a location one of
 * the two steps that ngx_http_credential_oauth.c answers; and the end of
 * the block for the flow, which turns its fields into login fields.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_http_credential_oauth_conf.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_login_conf.h"
#include "ngx_http_credential_oauth.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_secret.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


static char *ngx_http_credential_secret_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_authorize(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_credential_redirect_uri(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_state_key_size(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_credential_client_field(ngx_array_t *a,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_credential_state_key(ngx_conf_t *cf,
    ngx_http_credential_t *cred);


static ngx_conf_post_t  ngx_http_credential_authorize_post = {
    ngx_http_credential_authorize
};


static ngx_conf_post_t  ngx_http_credential_state_key_post = {
    ngx_http_credential_state_key_size
};


static ngx_http_credential_bounds_t  ngx_http_credential_state_lifetime = {
    ngx_http_credential_msec_bounds, 1000, 0,
    "invalid state_lifetime \"%V\": at least 1s"
};


ngx_command_t  ngx_http_credential_oauth_commands[] = {

    { ngx_string("authorize"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, authorize),
      &ngx_http_credential_authorize_post },

    { ngx_string("authorize_param"),
      NGX_CONF_TAKE2,
      ngx_http_credential_keyval_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, params),
      NULL },

    { ngx_string("client_id"),
      NGX_CONF_TAKE1,
      ngx_http_credential_secret_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, client_id),
      NULL },

    { ngx_string("client_secret"),
      NGX_CONF_TAKE1,
      ngx_http_credential_secret_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, client_secret),
      NULL },

    { ngx_string("redirect_uri"),
      NGX_CONF_TAKE1,
      ngx_http_credential_redirect_uri,
      0,
      offsetof(ngx_http_credential_oauth_t, redirect_uri),
      NULL },

    { ngx_string("code_grant_type"),
      NGX_CONF_TAKE1,
      ngx_http_credential_secret_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, grant_type),
      NULL },

    { ngx_string("state_key"),
      NGX_CONF_TAKE1,
      ngx_http_credential_secret_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, key),
      &ngx_http_credential_state_key_post },

    { ngx_string("state_lifetime"),
      NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, state_lifetime),
      &ngx_http_credential_state_lifetime },

    { ngx_string("pkce"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_http_credential_oauth_t, pkce),
      NULL },

      ngx_null_command
};


/* the flow hangs from the login part: the code exchange is its login */

void *
ngx_http_credential_get_oauth(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_oauth_t  *oauth;
    ngx_http_credential_login_t  *login;

    login = ngx_http_credential_get_login(cf, cred);
    if (login == NULL) {
        return NULL;
    }

    if (login->oauth) {
        return login->oauth;
    }

    oauth = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_oauth_t));
    if (oauth == NULL) {
        return NULL;
    }

    if (ngx_array_init(&oauth->params, cf->pool, 2, sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NULL;
    }

    oauth->state_lifetime = NGX_CONF_UNSET_MSEC;
    oauth->pkce = NGX_CONF_UNSET;

    login->oauth = oauth;

    return oauth;
}


/*
 * ngx_conf_set_str_slot for a value that may be a secret (env:, file:);
 * the directive's name is the message's, the value never is.
 */

static char *
ngx_http_credential_secret_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t        *field, *value;
    ngx_conf_post_t  *post;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_edge_auth_secret(cf, &value[1], field, (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cmd->post) {
        post = cmd->post;
        return post->post_handler(cf, post, field);
    }

    return NGX_CONF_OK;
}


/* the browser goes to the authorize URL, never nginx: only checked */

static char *
ngx_http_credential_authorize(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *value = data;

    ngx_edge_auth_url_t  url;

    if (ngx_edge_auth_url_parse(cf, value, &url, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(value->data, value->data + value->len, '#')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid authorize URL \"%V\": it must not have "
                           "a fragment", value);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a URL, and the state cookie's path and Secure flag that it implies */

static char *
ngx_http_credential_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_oauth_t *oauth = conf;

    u_char               *p;
    ngx_str_t            *value;
    ngx_edge_auth_url_t   url;

    if (oauth->redirect_uri.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_edge_auth_url_parse(cf, &value[1], &url, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the state cookie goes back to the callback's path only */

    oauth->secure = url.ssl;
    oauth->cookie_path = url.uri;

    p = ngx_strlchr(url.uri.data, url.uri.data + url.uri.len, '?');
    if (p) {
        oauth->cookie_path.len = p - url.uri.data;
    }

    for (p = url.uri.data; p < url.uri.data + url.uri.len; p++) {
        if (*p == ';' || *p == ',' || *p == '"' || *p == '#') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redirect_uri \"%V\": it must "
                               "not contain \";\", \",\", \"\"\" or "
                               "\"#\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    oauth->redirect_uri = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_credential_state_key_size(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *key = data;

    /* "nginx -s reload" reads no secrets, only placeholders */

    if (key->len < 16 && ngx_process != NGX_PROCESS_SIGNALLER) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "state_key must be at least 16 bytes long, "
                           "random (openssl rand -hex 32)");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * At the end of the block, before the login request is built: the code
 * exchange's fields become the login fields (and so part of the token's
 * fingerprint: another client or redirect_uri is another grant).
 */

ngx_int_t
ngx_http_credential_oauth_finish(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_oauth_t  *oauth;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    oauth = login->oauth;

    if (oauth->authorize.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" has authorization-code "
                           "directives but no \"authorize URL\"",
                           &cred->name);
        return NGX_ERROR;
    }

    if (login->url.text.len == 0 || oauth->client_id.len == 0
        || oauth->redirect_uri.len == 0 || login->refresh_url.text.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" has \"authorize\" and so needs "
                           "\"login URL\" (the token endpoint of the code "
                           "exchange), \"client_id\", \"redirect_uri\" and "
                           "\"refresh URL\"", &cred->name);
        return NGX_ERROR;
    }

    /* before login_finish: an unset login_body is a form */

    if (login->body_type == NGX_HTTP_CREDENTIAL_BODY_JSON) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": the code exchange is a form "
                           "(RFC 6749 4.1.3); remove \"login_body json\"",
                           &cred->name);
        return NGX_ERROR;
    }

    if (oauth->grant_type.len == 0) {
        ngx_str_set(&oauth->grant_type, "authorization_code");
    }

    ngx_conf_init_msec_value(oauth->state_lifetime, 600000);

    /* on unless turned off: a code caught on the way is then worthless */
    ngx_conf_init_value(oauth->pkce, 1);

    if (ngx_http_credential_client_field(&login->params, "client_id",
                                         &oauth->client_id)
        != NGX_OK
        || ngx_http_credential_client_field(&login->params,
                                            "client_secret",
                                            &oauth->client_secret)
           != NGX_OK
        || ngx_http_credential_client_field(&login->params,
                                            "redirect_uri",
                                            &oauth->redirect_uri)
           != NGX_OK
        || ngx_http_credential_client_field(&login->params, "grant_type",
                                            &oauth->grant_type)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * The client authenticates its refreshes too (RFC 6749 6); without
     * refresh_param they are the RFC's, grant_type=refresh_token included.
     */

    if (login->refresh_params.nelts == 0
        && ngx_http_credential_refresh_defaults(login) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_credential_client_field(&login->refresh_params,
                                         "client_id", &oauth->client_id)
        != NGX_OK
        || ngx_http_credential_client_field(&login->refresh_params,
                                            "client_secret",
                                            &oauth->client_secret)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_credential_state_key(cf, cred);
}


/* adds name=value unless empty or already there (a login_param wins) */

static ngx_int_t
ngx_http_credential_client_field(ngx_array_t *a, const char *name,
    ngx_str_t *value)
{
    size_t         len;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (value->len == 0) {
        return NGX_OK;
    }

    len = ngx_strlen(name);
    kv = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (kv[i].key.len == len
            && ngx_strncmp(kv[i].key.data, name, len) == 0)
        {
            return NGX_OK;
        }
    }

    kv = ngx_array_push(a);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    kv->key.data = (u_char *) name;
    kv->key.len = len;
    kv->value = *value;

    return NGX_OK;
}


/*
 * The state key: state_key if configured; else derived from the client
 * secret (the same on every node and across reloads); else random for
 * this start, which breaks states across nodes and reloads.
 */

static ngx_int_t
ngx_http_credential_state_key(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    u_char                       *secret;
    size_t                        len;
    unsigned int                  mdlen;
    ngx_http_credential_oauth_t  *oauth;

    static u_char  label[] = "ngx_http_credential_module state key";

    oauth = cred->login->oauth;

    if (oauth->key.len) {
        return NGX_OK;
    }

    secret = oauth->client_secret.len ? oauth->client_secret.data
                                      : cred->login->basic.data;
    len = oauth->client_secret.len ? oauth->client_secret.len
                                   : cred->login->basic.len;

    oauth->key.data = ngx_pnalloc(cf->pool, EVP_MAX_MD_SIZE);
    if (oauth->key.data == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        if (HMAC(EVP_sha256(), secret, (int) len, label, sizeof(label) - 1,
                 oauth->key.data, &mdlen)
            == NULL)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "HMAC() failed");
            return NGX_ERROR;
        }

        oauth->key.len = mdlen;
        return NGX_OK;
    }

    if (RAND_bytes(oauth->key.data, 32) != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "RAND_bytes() failed");
        return NGX_ERROR;
    }

    oauth->key.len = 32;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "credential \"%V\" has no \"state_key\" and no client "
                       "secret: states are signed with a key random for "
                       "this start, so a connect step must end on the node "
                       "and in the configuration where it began",
                       &cred->name);

    return NGX_OK;
}


/* credential_connect NAME, credential_callback NAME: content handlers */

char *
ngx_http_credential_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_loc_conf_t *lcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_credential_endpoint_t    *ep, **epp;
    ngx_http_credential_main_conf_t   *cmcf;

    if (lcf->endpoint) {
        return "is duplicate: a location is one connect or callback step";
    }

    value = cf->args->elts;

    ep = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_endpoint_t));
    if (ep == NULL) {
        return NGX_CONF_ERROR;
    }

    ep->name = value[1];
    ep->file = cf->conf_file->file.name.data;
    ep->line = cf->conf_file->line;
    ep->callback = (ngx_strcmp(value[0].data, "credential_callback") == 0);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    epp = ngx_array_push(&cmcf->endpoints);
    if (epp == NULL) {
        return NGX_CONF_ERROR;
    }

    *epp = ep;
    lcf->endpoint = ep;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ep->callback ? ngx_http_credential_callback_handler
                                 : ngx_http_credential_connect_handler;

    return NGX_CONF_OK;
}


/* after the http block: credentials may be defined after their use */

ngx_int_t
ngx_http_credential_endpoints_resolve(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_uint_t                        i;
    ngx_http_credential_t            *cred;
    ngx_http_credential_endpoint_t  **ep;

    ep = cmcf->endpoints.elts;

    for (i = 0; i < cmcf->endpoints.nelts; i++) {
        cred = ngx_edge_auth_names_find(&cmcf->names, &ep[i]->name);

        if (cred == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown credential \"%V\" in %s:%ui: no such "
                          "block is defined in the http block",
                          &ep[i]->name, ep[i]->file, ep[i]->line);
            return NGX_ERROR;
        }

        if (cred->login == NULL || cred->login->oauth == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "credential \"%V\" in %s:%ui has no \"authorize\": "
                          "%s needs the authorization-code flow",
                          &ep[i]->name, ep[i]->file, ep[i]->line,
                          ep[i]->callback ? "credential_callback"
                                          : "credential_connect");
            return NGX_ERROR;
        }

        ep[i]->cred = cred;
    }

    return NGX_OK;
}
