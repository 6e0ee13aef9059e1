
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * AWS Signature Version 4 of each proxied request.  In the precontent
 * phase, before the proxy module builds its request, the request is
 * signed as the upstream will see it: the method, the URI as
 * "proxy_pass" without a URI part sends it (the client's own bytes, or
 * the escaped URI after a rewrite), the Host that "aws_sigv4_host" says
 * the upstream sees, and the payload hash: UNSIGNED-PAYLOAD, or the
 * SHA-256 of the body, read in full first.  The signing key changes once
 * a day: each worker derives it at the first request of a UTC day.
 *
 * Nothing here logs a key, a token, the canonical request (the token is
 * in it) or the signing key.
 */


#include "ngx_http_credential_sigv4.h"
#include "ngx_http_credential_upstream.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_sigv4.h"


/* the computed headers, in this order */
#define NGX_HTTP_SIGV4_AUTHORIZATION  0
#define NGX_HTTP_SIGV4_CONTENT        1
#define NGX_HTTP_SIGV4_DATE           2
#define NGX_HTTP_SIGV4_TOKEN          3
#define NGX_HTTP_SIGV4_HEADERS        4

#define NGX_HTTP_SIGV4_UNSIGNED       "UNSIGNED-PAYLOAD"


struct ngx_http_credential_sigv4_s {
    ngx_str_t                    region;
    ngx_str_t                    service;
    ngx_str_t                    access_key;
    ngx_str_t                    secret_key;
    ngx_str_t                    token;
    ngx_http_complex_value_t    *host;
    ngx_uint_t                   unsigned_payload;
    ngx_uint_t                   s3;

    /* the computed headers: their lowcase_key is what an internal
       redirect finds in the main conf's "injected" */
    ngx_table_elt_t              headers[NGX_HTTP_SIGV4_HEADERS];

    /* this worker's signing key, for one UTC day */
    u_char                       day[8];
    u_char                       key[NGX_EDGE_AUTH_SIGV4_KEY_LEN];
};


static char *ngx_http_credential_aws_sigv4(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_aws_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_aws_host(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_sigv4_scope_name(ngx_conf_t *cf,
    ngx_str_t *name, const char *what);
static ngx_int_t ngx_http_credential_sigv4_canonical(ngx_http_request_t *r,
    ngx_http_credential_sigv4_t *sv, ngx_str_t *host, u_char *date,
    u_char *payload, ngx_str_t *creq);


ngx_command_t  ngx_http_credential_sigv4_commands[] = {

    { ngx_string("aws_sigv4"),
      NGX_CONF_TAKE23,
      ngx_http_credential_aws_sigv4,
      0,
      0,
      NULL },

    { ngx_string("aws_access_key_id"),
      NGX_CONF_TAKE1,
      ngx_http_credential_aws_secret,
      0,
      offsetof(ngx_http_credential_sigv4_t, access_key),
      NULL },

    { ngx_string("aws_secret_access_key"),
      NGX_CONF_TAKE1,
      ngx_http_credential_aws_secret,
      0,
      offsetof(ngx_http_credential_sigv4_t, secret_key),
      NULL },

    { ngx_string("aws_session_token"),
      NGX_CONF_TAKE1,
      ngx_http_credential_aws_secret,
      0,
      offsetof(ngx_http_credential_sigv4_t, token),
      NULL },

    { ngx_string("aws_sigv4_host"),
      NGX_CONF_TAKE1,
      ngx_http_credential_aws_host,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_str_t  ngx_http_credential_sigv4_names[] = {
    ngx_string("Authorization"),
    ngx_string("X-Amz-Content-Sha256"),
    ngx_string("X-Amz-Date"),
    ngx_string("X-Amz-Security-Token")
};


/* configuration */

void *
ngx_http_credential_get_sigv4(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    if (cred->sigv4 == NULL) {
        cred->sigv4 = ngx_pcalloc(cf->pool,
                                  sizeof(ngx_http_credential_sigv4_t));
    }

    return cred->sigv4;
}


static char *
ngx_http_credential_aws_sigv4(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_sigv4_t *sv = conf;

    ngx_str_t  *value;

    if (sv->region.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_credential_sigv4_scope_name(cf, &value[1], "region")
        != NGX_OK
        || ngx_http_credential_sigv4_scope_name(cf, &value[2], "service")
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "unsigned_payload") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"aws_sigv4\": "
                               "only \"unsigned_payload\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        sv->unsigned_payload = 1;
    }

    sv->region = value[1];
    sv->service = value[2];

    /* S3 neither normalises nor double-encodes the path */
    sv->s3 = (value[2].len == 2 && ngx_strcmp(value[2].data, "s3") == 0);

    return NGX_CONF_OK;
}


/* names that go into the credential scope, between "/" */

static ngx_int_t
ngx_http_credential_sigv4_scope_name(ngx_conf_t *cf, ngx_str_t *name,
    const char *what)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_' || c == '.'))
        {
            break;
        }
    }

    if (name->len == 0 || i < name->len
        || name->len > NGX_EDGE_AUTH_SIGV4_NAME_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s \"%V\" in \"aws_sigv4\": lower-case "
                           "letters, digits, \"-\", \"_\" or \".\", at most "
                           "%d", what, name, NGX_EDGE_AUTH_SIGV4_NAME_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_credential_aws_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t   *value, *field;
    ngx_uint_t   i;

    field = (ngx_str_t *) ((char *) conf + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_edge_auth_secret(cf, &value[1], field, (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the key id goes into "Credential=ID/scope, ...": no separators */

    if (cmd->offset == offsetof(ngx_http_credential_sigv4_t, access_key)) {
        for (i = 0; i < field->len; i++) {
            if (field->data[i] == '/' || field->data[i] == ','
                || field->data[i] == ' ' || field->data[i] == '"')
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "aws_access_key_id must not contain "
                                   "\"/\", \",\", \" \" or \"\"\"");
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_credential_aws_host(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_sigv4_t *sv = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (sv->host) {
        return "is duplicate";
    }

    value = cf->args->elts;

    sv->host = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (sv->host == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = sv->host;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_credential_sigv4_finish(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred)
{
    ngx_str_t                     *secret, *s;
    ngx_uint_t                     i;
    ngx_http_credential_sigv4_t   *sv;

    sv = cred->sigv4;

    if (sv->region.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" has AWS keys but no "
                           "\"aws_sigv4 region service\"", &cred->name);
        return NGX_ERROR;
    }

    if (sv->access_key.len == 0 || sv->secret_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"aws_sigv4\" needs "
                           "\"aws_access_key_id\" and "
                           "\"aws_secret_access_key\"", &cred->name);
        return NGX_ERROR;
    }

    if (sv->host == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"aws_sigv4\" needs "
                           "\"aws_sigv4_host\", the Host the upstream sees",
                           &cred->name);
        return NGX_ERROR;
    }

    /* the token engine and the body features are not signed (yet) */

    if (cred->login || cred->body || cred->answer) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"aws_sigv4\" cannot be "
                           "combined with a login, \"body_json\" or answer "
                           "codes", &cred->name);
        return NGX_ERROR;
    }

    if (ngx_http_credential_upstream_computed(cf, cmcf, cred, sv->headers,
                                              ngx_http_credential_sigv4_names,
                                              NGX_HTTP_SIGV4_HEADERS,
                                              "aws_sigv4")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* masked in debug logs: the token is a header of every request */

    for (i = 0; i < 3; i++) {
        secret = (i == 0) ? &sv->access_key
                 : (i == 1) ? &sv->secret_key : &sv->token;

        if (secret->len == 0) {
            continue;
        }

        s = ngx_array_push(&cmcf->secrets);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = *secret;
    }

    return NGX_OK;
}


/* the request */

ngx_int_t
ngx_http_credential_sigv4_sign(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t **extra, ngx_uint_t *nextra)
{
    u_char                       *p, *payload, *date;
    ngx_int_t                     rc;
    ngx_str_t                     host, creq, scope;
    ngx_uint_t                    i, n;
    ngx_table_elt_t              *h;
    ngx_http_credential_ctx_t    *ctx;
    ngx_http_credential_sigv4_t  *sv;
    u_char                        sig[NGX_EDGE_AUTH_SIGV4_HEX_LEN];
    u_char                        digest[NGX_HTTP_CREDENTIAL_SHA256_LEN];

    sv = cred->sigv4;

    ctx = ngx_http_credential_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the payload hash first: it may take reading the body */

    if (sv->unsigned_payload) {
        payload = (u_char *) NGX_HTTP_SIGV4_UNSIGNED;

    } else if (ctx->payload == NULL) {

        rc = ngx_http_credential_upstream_body(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }

        ctx->payload = ngx_pnalloc(r->pool, NGX_EDGE_AUTH_SIGV4_HEX_LEN + 1);
        if (ctx->payload == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_credential_upstream_sha256(r, digest) != NGX_OK) {
            ctx->payload = NULL;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_hex_dump(ctx->payload, digest, NGX_HTTP_CREDENTIAL_SHA256_LEN);
        ctx->payload[NGX_EDGE_AUTH_SIGV4_HEX_LEN] = '\0';
        payload = ctx->payload;

    } else {
        payload = ctx->payload;
    }

    if (ngx_http_complex_value(r, sv->host, &host) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (host.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "credential \"%V\": aws_sigv4_host is empty",
                      &cred->name);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    date = ngx_pnalloc(r->pool, NGX_EDGE_AUTH_SIGV4_DATE_LEN);
    if (date == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_edge_auth_sigv4_date(date, ngx_time());

    /* the key of the day, derived by each worker once a UTC day */

    if (ngx_memcmp(sv->day, date, 8) != 0) {
        if (ngx_edge_auth_sigv4_key(sv->key, sv->secret_key.data,
                                    sv->secret_key.len, date,
                                    sv->region.data, sv->region.len,
                                    sv->service.data, sv->service.len)
            != 0)
        {
            ngx_memzero(sv->day, 8);
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "credential \"%V\": deriving the signing key "
                          "failed", &cred->name);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(sv->day, date, 8);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "credential \"%V\": signing key of %*s derived",
                       &cred->name, (size_t) 8, date);
    }

    if (ngx_http_credential_sigv4_canonical(r, sv, &host, date, payload,
                                            &creq)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    scope.len = 8 + 1 + sv->region.len + 1 + sv->service.len
                + sizeof("/aws4_request") - 1;
    scope.data = ngx_pnalloc(r->pool, scope.len);
    if (scope.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(scope.data, "%*s/%V/%V/aws4_request", (size_t) 8, date,
                &sv->region, &sv->service);

    if (ngx_edge_auth_sigv4_signature(sig, sv->key, date, scope.data,
                                      scope.len, creq.data, creq.len)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = sv->token.len ? NGX_HTTP_SIGV4_HEADERS : NGX_HTTP_SIGV4_HEADERS - 1;

    h = ngx_palloc(r->pool, n * sizeof(ngx_table_elt_t));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        h[i] = sv->headers[i];
    }

    h[NGX_HTTP_SIGV4_DATE].value.data = date;
    h[NGX_HTTP_SIGV4_DATE].value.len = NGX_EDGE_AUTH_SIGV4_DATE_LEN;

    h[NGX_HTTP_SIGV4_CONTENT].value.data = payload;
    h[NGX_HTTP_SIGV4_CONTENT].value.len = ngx_strlen(payload);

    if (sv->token.len) {
        h[NGX_HTTP_SIGV4_TOKEN].value = sv->token;
    }

    p = ngx_pnalloc(r->pool,
                    sizeof("AWS4-HMAC-SHA256 Credential=/, SignedHeaders="
                           "host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-security-token, Signature=") - 1
                    + sv->access_key.len + scope.len
                    + NGX_EDGE_AUTH_SIGV4_HEX_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h[NGX_HTTP_SIGV4_AUTHORIZATION].value.data = p;

    p = ngx_sprintf(p, "AWS4-HMAC-SHA256 Credential=%V/%V, SignedHeaders="
                    "host;x-amz-content-sha256;x-amz-date%s, Signature=",
                    &sv->access_key, &scope,
                    sv->token.len ? ";x-amz-security-token" : "");
    p = ngx_cpymem(p, sig, NGX_EDGE_AUTH_SIGV4_HEX_LEN);

    h[NGX_HTTP_SIGV4_AUTHORIZATION].value.len =
                                p - h[NGX_HTTP_SIGV4_AUTHORIZATION].value.data;

    /* no key, no token, no canonical request: the token is in it */
    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential \"%V\": signed for host \"%V\", scope "
                   "\"%*s/...\", payload %s", &cred->name, &host,
                   (size_t) 8, date,
                   sv->unsigned_payload ? "unsigned" : "hashed");

    *extra = h;
    *nextra = n;

    return NGX_OK;
}


/*
 * The canonical request: the method, the path and the query as the
 * upstream gets them, the signed headers (in sorted order already), the
 * payload hash.
 */

static ngx_int_t
ngx_http_credential_sigv4_canonical(ngx_http_request_t *r,
    ngx_http_credential_sigv4_t *sv, ngx_str_t *host, u_char *date,
    u_char *payload, ngx_str_t *creq)
{
    u_char                      *p, *work, *cpath, *cquery;
    size_t                       len, plen, qlen, payload_len;
    ngx_str_t                    path, args, *method;
    ngx_edge_auth_sigv4_pair_t  *pairs;

    if (ngx_http_credential_upstream_uri(r, &path, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_max(NGX_EDGE_AUTH_SIGV4_PATH_WORK(path.len), 3 * args.len + 1);

    work = ngx_pnalloc(r->pool, len);
    cpath = ngx_pnalloc(r->pool, NGX_EDGE_AUTH_SIGV4_PATH_ROOM(path.len));
    cquery = ngx_pnalloc(r->pool, NGX_EDGE_AUTH_SIGV4_QUERY_ROOM(args.len));
    pairs = ngx_palloc(r->pool, NGX_EDGE_AUTH_SIGV4_QUERY_PAIRS(args.len)
                                * sizeof(ngx_edge_auth_sigv4_pair_t));

    if (work == NULL || cpath == NULL || cquery == NULL || pairs == NULL) {
        return NGX_ERROR;
    }

    plen = ngx_edge_auth_sigv4_path(cpath, path.data, path.len, work, sv->s3);
    qlen = ngx_edge_auth_sigv4_query(cquery, args.data, args.len, work,
                                     pairs);

    payload_len = ngx_strlen(payload);

    method = ngx_http_credential_upstream_method(r);

    len = method->len + 1 + plen + 1 + qlen + 1
          + sizeof("host:\n") - 1 + host->len
          + sizeof("x-amz-content-sha256:\n") - 1 + payload_len
          + sizeof("x-amz-date:\n") - 1 + NGX_EDGE_AUTH_SIGV4_DATE_LEN
          + sizeof("x-amz-security-token:\n") - 1 + sv->token.len
          + sizeof("\nhost;x-amz-content-sha256;x-amz-date;"
                   "x-amz-security-token\n") - 1
          + payload_len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    creq->data = p;

    p = ngx_sprintf(p, "%V\n%*s\n%*s\nhost:%V\nx-amz-content-sha256:%s\n"
                    "x-amz-date:%*s\n",
                    method, plen, cpath, qlen, cquery, host,
                    payload, (size_t) NGX_EDGE_AUTH_SIGV4_DATE_LEN, date);

    if (sv->token.len) {
        p = ngx_sprintf(p, "x-amz-security-token:%V\n", &sv->token);
    }

    p = ngx_sprintf(p, "\nhost;x-amz-content-sha256;x-amz-date%s\n%s",
                    sv->token.len ? ";x-amz-security-token" : "", payload);

    creq->len = p - creq->data;

    return NGX_OK;
}
