
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials that come from a login or token endpoint, at run time: the
 * login request, built once when the block ends; refresh and code exchange
 * requests, built for each call; and the reading of the answer.  The
 * directives are in ngx_http_credential_login_conf.c.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_iso8601.h"
#include "ngx_edge_auth_json.h"
#include "ngx_edge_auth_store.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>


#define NGX_HTTP_CREDENTIAL_UA  "nginx-credential-module"


static ngx_int_t ngx_http_credential_sha1(ngx_str_t *part, u_char *md);
static ngx_int_t ngx_http_credential_post(ngx_pool_t *pool,
    ngx_http_credential_login_t *login, ngx_edge_auth_url_t *url,
    ngx_str_t *json, ngx_array_t *form, ngx_str_t *request);
static size_t ngx_http_credential_form_len(ngx_array_t *a);
static u_char *ngx_http_credential_form_write(u_char *p, ngx_array_t *a);
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


/*
 * Once, at the end of the block: the login request is always the same.
 * The token's identity comes with it (login->key): a changed request is
 * a different token.  Its fingerprint hashes "NAME\0URL\0REQUEST", in
 * parts: the request alone is kept.
 */

ngx_int_t
ngx_http_credential_login_request(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_str_t                     body, part[3];
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->body_type == NGX_HTTP_CREDENTIAL_BODY_JSON) {
        if (ngx_http_credential_json(cf->pool, &login->params, &body, cf->log)
            != NGX_OK
            || ngx_http_credential_post(cf->pool, login, &login->url, &body,
                                        NULL, &login->request)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ngx_http_credential_post(cf->pool, login, &login->url, NULL,
                                        &login->params, &login->request)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* each with its terminating zero, but the request */

    part[0].data = cred->name.data;
    part[0].len = cred->name.len;
    part[1] = login->url.text;
    part[2] = login->request;

    return ngx_http_credential_sha1(part, login->key);
}


/*
 * SHA1() of OpenSSL 3 fetches the digest and makes a context for each
 * call, half of its time for a login request: the digest is fetched
 * once, and one context serves every credential.  The bytes hashed are
 * part[0] "\0" part[1] "\0" part[2], as they were in one buffer.
 */

static ngx_int_t
ngx_http_credential_sha1(ngx_str_t *part, u_char *md)
{
    ngx_uint_t          i;
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    static EVP_MD      *sha1;
    static EVP_MD_CTX  *ctx;

    if (sha1 == NULL) {
        sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
        if (sha1 == NULL) {
            return NGX_ERROR;
        }
    }

    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (EVP_DigestInit_ex2(ctx, sha1, NULL) != 1) {
        return NGX_ERROR;
    }

    for (i = 0; i < 3; i++) {
        if (EVP_DigestUpdate(ctx, part[i].data, part[i].len) != 1
            || (i < 2 && EVP_DigestUpdate(ctx, "", 1) != 1))
        {
            return NGX_ERROR;
        }
    }

    if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
#else
    SHA_CTX  ctx;

    SHA1_Init(&ctx);

    for (i = 0; i < 3; i++) {
        SHA1_Update(&ctx, part[i].data, part[i].len);

        if (i < 2) {
            SHA1_Update(&ctx, "", 1);
        }
    }

    SHA1_Final(md, &ctx);

    return NGX_OK;
#endif
}


/*
 * A POST to a login or refresh URL: the login's client authentication and
 * extra headers, then the body, a JSON one as given (json) or the form
 * fields escaped straight into the request; one request per connection.
 */

static ngx_int_t
ngx_http_credential_post(ngx_pool_t *pool, ngx_http_credential_login_t *login,
    ngx_edge_auth_url_t *url, ngx_str_t *json, ngx_array_t *form,
    ngx_str_t *request)
{
    size_t         len, blen;
    u_char        *p;
    ngx_uint_t     i;
    ngx_keyval_t  *h;

    blen = json ? json->len : ngx_http_credential_form_len(form);

    len = sizeof("POST  HTTP/1.1" CRLF) - 1 + url->uri.len
          + sizeof("Host: " CRLF) - 1 + url->host_header.len
          + sizeof("User-Agent: " NGX_HTTP_CREDENTIAL_UA CRLF) - 1
          + sizeof("Accept: application/json, */*" CRLF) - 1
          + sizeof("Content-Type: application/x-www-form-urlencoded" CRLF)
          - 1
          + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN
          + sizeof("Connection: close" CRLF CRLF) - 1
          + blen;

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

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, url->uri.data, url->uri.len);
    p = ngx_cpymem(p, " HTTP/1.1" CRLF "Host: ",
                   sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    p = ngx_cpymem(p, url->host_header.data, url->host_header.len);
    p = ngx_cpymem(p, CRLF "User-Agent: " NGX_HTTP_CREDENTIAL_UA CRLF
                   "Accept: application/json, */*" CRLF,
                   sizeof(CRLF "User-Agent: " NGX_HTTP_CREDENTIAL_UA CRLF
                          "Accept: application/json, */*" CRLF) - 1);

    if (json) {
        p = ngx_cpymem(p, "Content-Type: application/json" CRLF,
                       sizeof("Content-Type: application/json" CRLF) - 1);

    } else {
        p = ngx_cpymem(p, "Content-Type: application/x-www-form-urlencoded"
                       CRLF, sizeof("Content-Type: "
                                    "application/x-www-form-urlencoded" CRLF)
                             - 1);
    }

    p = ngx_sprintf(p, "Content-Length: %uz" CRLF, blen);

    if (login->basic.len) {
        p = ngx_cpymem(p, "Authorization: ", sizeof("Authorization: ") - 1);
        p = ngx_cpymem(p, login->basic.data, login->basic.len);
        *p++ = CR; *p++ = LF;
    }

    for (i = 0; i < login->headers.nelts; i++) {
        p = ngx_cpymem(p, h[i].key.data, h[i].key.len);
        *p++ = ':'; *p++ = ' ';
        p = ngx_cpymem(p, h[i].value.data, h[i].value.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_cpymem(p, "Connection: close" CRLF CRLF,
                   sizeof("Connection: close" CRLF CRLF) - 1);

    if (json) {
        p = ngx_cpymem(p, json->data, json->len);

    } else {
        p = ngx_http_credential_form_write(p, form);
    }

    request->len = p - request->data;

    return NGX_OK;
}


static size_t
ngx_http_credential_form_len(ngx_array_t *a)
{
    size_t         len;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    kv = a->elts;
    len = 0;

    for (i = 0; i < a->nelts; i++) {
        len += (i ? 1 : 0) + kv[i].key.len + 1 + kv[i].value.len
               + 2 * ngx_escape_uri(NULL, kv[i].key.data, kv[i].key.len,
                                    NGX_ESCAPE_URI_COMPONENT)
               + 2 * ngx_escape_uri(NULL, kv[i].value.data, kv[i].value.len,
                                    NGX_ESCAPE_URI_COMPONENT);
    }

    return len;
}


static u_char *
ngx_http_credential_form_write(u_char *p, ngx_array_t *a)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    kv = a->elts;

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

    return p;
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
 * Reads the token and its expiry from a successful (2xx) answer, and its
 * refresh token, which is set even when the token is refused.
 * token->data and refresh->data live in hc->pool.
 */

ngx_int_t
ngx_http_credential_login_answer(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, int64_t now, ngx_str_t *token,
    ngx_str_t *refresh, int64_t *expires, const char **error)
{
    json_t                       *root;
    ngx_int_t                     rc;
    const char                   *why;
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

    /*
     * A refresh token is optional: absent means "log in next time".  It
     * is read even when the access token is refused: a rotating partner
     * has revoked the refresh token it replaces, and sending that one
     * again may revoke the whole grant (reuse detection).
     */

    ngx_str_null(refresh);

    if (login->refresh_url.text.len
        && ngx_http_credential_answer_token(cred, hc, root,
                                            &login->refresh_from, refresh,
                                            &why)
           != NGX_OK)
    {
        ngx_str_null(refresh);
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

            /* as an expiry in seconds: at most 366 days */

            if (lifetime > (int64_t) 366 * 86400 * 1000) {
                *error = "the answer has an expiry date more than 366 days "
                         "ahead";
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


/*
 * A partner may count a token's life from an issue time rounded down to
 * the second (oidc-provider), or from before its answer was on the way:
 * in the last moments before the expiry it computed from its answer the
 * partner refuses the token already.  token_expiry_margin ends its use
 * earlier, for tokens from a login, a refresh or the fleet alike.
 */

int64_t
ngx_http_credential_usable_end(ngx_http_credential_login_t *login,
    int64_t issued, int64_t expires)
{
    int64_t  life, margin;

    life = expires - issued;

    if (life <= 0) {
        return expires;
    }

    /* a time (or the floor of a percentage) leaves half a short life */

    margin = ngx_min((int64_t) login->margin, life / 2);
    margin = ngx_max(margin, life * (int64_t) login->margin_percent / 100);

    return expires - margin;
}


/*
 * token_renew_before counts back from the end of use, so that a healthy
 * partner's new token is there before requests would have to wait; a
 * short-lived token is renewed at half its usable life.  Credentials that
 * logged in together must not renew together: each renews at its own
 * point of the first half of that window, drawn from its fingerprint, so
 * the second half is left for the login and its retries.
 */

int64_t
ngx_http_credential_renew_time(ngx_http_credential_login_t *login,
    int64_t issued, int64_t expires)
{
    int64_t   end, before, spread;
    uint32_t  draw;

    end = ngx_http_credential_usable_end(login, issued, expires);

    before = ngx_min((int64_t) login->renew_before,
                     ngx_max(end - issued, 0) / 2);

    draw = (uint32_t) login->key[0] << 8 | login->key[1];
    spread = before / 2 * draw / 65536;

    return end - before + spread;
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
 * A login with a client assertion: the login request of the block, but
 * with a fresh assertion, so built for each login in its pool.
 */

ngx_int_t
ngx_http_credential_login_signed(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_str_t *request)
{
    return ngx_http_credential_form_request(login, pool, &login->url,
                                            &login->params, NULL, NULL,
                                            request);
}


/*
 * A form POST of the fields plus one value that is never kept: the
 * refresh token of a renewal, the code of an authorization-code exchange
 * (name NULL: none).  A client that signs assertions adds a fresh one,
 * whose audience is the URL it goes to (RFC 7523 3, item 3).
 */

ngx_int_t
ngx_http_credential_form_request(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_edge_auth_url_t *url, ngx_array_t *params,
    ngx_str_t *name, ngx_str_t *value, ngx_str_t *request)
{
    ngx_int_t      rc;
    ngx_str_t      jwt;
    ngx_uint_t     n;
    ngx_array_t    fields;
    ngx_keyval_t  *kv;

    n = params->nelts + (name ? 1 : 0) + (login->assertion ? 2 : 0);

    if (ngx_array_init(&fields, pool, n, sizeof(ngx_keyval_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    kv = ngx_array_push_n(&fields, n);
    if (kv == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(kv, params->elts, params->nelts * sizeof(ngx_keyval_t));

    kv += params->nelts;

    if (name) {
        kv->key = *name;
        kv->value = *value;
        kv++;
    }

    ngx_str_null(&jwt);

    if (login->assertion) {
        if (ngx_edge_auth_jwt_assertion(login->assertion, pool,
                                        &login->client_id, &url->text,
                                        ngx_time(), &jwt, pool->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&kv[0].key, "client_assertion_type");
        ngx_str_set(&kv[0].value,
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        ngx_str_set(&kv[1].key, "client_assertion");
        kv[1].value = jwt;
    }

    /* the request is zeroed after use, with the value in it */
    rc = ngx_http_credential_post(pool, login, url, NULL, &fields, request);

    if (jwt.len) {
        ngx_explicit_memzero(jwt.data, jwt.len);
    }

    return rc;
}
