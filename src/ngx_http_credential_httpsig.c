
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * HTTP Message Signatures (RFC 9421) of each proxied request.  In the
 * precontent phase, before the proxy module builds its request, the
 * covered components are taken as the upstream will see them: the
 * method, the URI as "proxy_pass" without a URI part sends it, the
 * authority that "http_signature_authority" says the upstream sees, the
 * request's headers (a credential's own "header" values in place of the
 * client's), and the Content-Digest (RFC 9530) of the body, read in full
 * first.  The signature base (RFC 9421 2.5) is signed with hmac-sha256 or
 * ed25519.
 *
 * Nothing here logs the key or the signature base.
 */


#include "ngx_http_credential_httpsig.h"
#include "ngx_http_credential_upstream.h"
#include "ngx_edge_auth_httpsig.h"
#include "ngx_edge_auth_jwt.h"
#include "ngx_edge_auth_secret.h"


/* the computed headers, in this order */
#define NGX_HTTP_HTTPSIG_INPUT       0
#define NGX_HTTP_HTTPSIG_SIGNATURE   1
#define NGX_HTTP_HTTPSIG_DIGEST      2
#define NGX_HTTP_HTTPSIG_HEADERS     3

/* the kinds of covered components */
#define NGX_HTTP_HTTPSIG_METHOD      1
#define NGX_HTTP_HTTPSIG_TARGET_URI  2
#define NGX_HTTP_HTTPSIG_AUTHORITY   3
#define NGX_HTTP_HTTPSIG_SCHEME      4
#define NGX_HTTP_HTTPSIG_PATH        5
#define NGX_HTTP_HTTPSIG_QUERY       6
#define NGX_HTTP_HTTPSIG_CDIGEST     7
#define NGX_HTTP_HTTPSIG_FIELD       8


typedef struct {
    ngx_str_t                    name;      /* lower case */
    ngx_uint_t                   kind;
} ngx_http_credential_httpsig_component_t;


struct ngx_http_credential_httpsig_s {
    ngx_uint_t                   alg;
    ngx_str_t                    key;       /* hmac-sha256 */
    EVP_PKEY                    *pkey;      /* ed25519 */
    ngx_str_t                    keyid;
    ngx_str_t                    label;
    ngx_str_t                    tag;
    ngx_flag_t                   created;
    time_t                       expires;   /* 0: no "expires" */

    ngx_array_t                 *components;
    ngx_http_complex_value_t    *authority;
    ngx_str_t                    scheme;
    ngx_uint_t                   digest;    /* content-digest covered */
    ngx_uint_t                   uri;       /* a URI component covered */

    ngx_table_elt_t              headers[NGX_HTTP_HTTPSIG_HEADERS];
};


static char *ngx_http_credential_http_signature(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_httpsig_sf_string(ngx_conf_t *cf,
    ngx_str_t *value, const char *what);
static char *ngx_http_credential_httpsig_components(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_httpsig_authority(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_credential_httpsig_field(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *name, ngx_str_t *value);
static void ngx_http_credential_httpsig_trim(ngx_str_t *value);


ngx_command_t  ngx_http_credential_httpsig_commands[] = {

    { ngx_string("http_signature"),
      NGX_CONF_2MORE,
      ngx_http_credential_http_signature,
      0,
      0,
      NULL },

    { ngx_string("http_signature_components"),
      NGX_CONF_1MORE,
      ngx_http_credential_httpsig_components,
      0,
      0,
      NULL },

    { ngx_string("http_signature_authority"),
      NGX_CONF_TAKE12,
      ngx_http_credential_httpsig_authority,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_str_t  ngx_http_credential_httpsig_names[] = {
    ngx_string("Signature-Input"),
    ngx_string("Signature"),
    ngx_string("Content-Digest")
};


/* the derived components (RFC 9421 2.2) that this signer knows */

static ngx_http_credential_httpsig_component_t
    ngx_http_credential_httpsig_derived[] = {
    { ngx_string("@method"), NGX_HTTP_HTTPSIG_METHOD },
    { ngx_string("@target-uri"), NGX_HTTP_HTTPSIG_TARGET_URI },
    { ngx_string("@authority"), NGX_HTTP_HTTPSIG_AUTHORITY },
    { ngx_string("@scheme"), NGX_HTTP_HTTPSIG_SCHEME },
    { ngx_string("@path"), NGX_HTTP_HTTPSIG_PATH },
    { ngx_string("@query"), NGX_HTTP_HTTPSIG_QUERY },
    { ngx_null_string, 0 }
};


/* configuration */

void *
ngx_http_credential_get_httpsig(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_httpsig_t  *hs;

    if (cred->httpsig == NULL) {
        hs = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_httpsig_t));
        if (hs == NULL) {
            return NULL;
        }

        hs->created = NGX_CONF_UNSET;
        cred->httpsig = hs;
    }

    return cred->httpsig;
}


/*
 * http_signature hmac-sha256|ed25519 KEY keyid=ID [key=base64]
 *                [label=sig1] [created=on|off] [expires=SECONDS] [tag=TAG];
 */

static char *
ngx_http_credential_http_signature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_httpsig_t *hs = conf;

    u_char      *p;
    ngx_str_t   *value, pem, v;
    ngx_int_t    n, rc;
    ngx_uint_t   i, key_base64;

    if (hs->alg) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "hmac-sha256") == 0) {
        hs->alg = NGX_EDGE_AUTH_HTTPSIG_HMAC_SHA256;

    } else if (ngx_strcmp(value[1].data, "ed25519") == 0) {
        hs->alg = NGX_EDGE_AUTH_HTTPSIG_ED25519;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown algorithm \"%V\" in \"http_signature\": "
                           "\"hmac-sha256\" or \"ed25519\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* the parameters first: a key is read only from a valid directive */

    hs->label.len = sizeof("sig1") - 1;
    hs->label.data = (u_char *) "sig1";
    key_base64 = 0;

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "keyid=", 6) == 0) {
            hs->keyid.data = value[i].data + 6;
            hs->keyid.len = value[i].len - 6;

            if (ngx_http_credential_httpsig_sf_string(cf, &hs->keyid,
                                                      "keyid")
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "tag=", 4) == 0) {
            hs->tag.data = value[i].data + 4;
            hs->tag.len = value[i].len - 4;

            if (ngx_http_credential_httpsig_sf_string(cf, &hs->tag, "tag")
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "label=", 6) == 0) {
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;

            /* an sf-key (RFC 8941 3.1.2) */

            for (p = v.data; p < v.data + v.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || *p == '*'
                      || (p > v.data
                          && ((*p >= '0' && *p <= '9') || *p == '_'
                              || *p == '-' || *p == '.'))))
                {
                    break;
                }
            }

            if (v.len == 0 || p < v.data + v.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid label \"%V\" in "
                                   "\"http_signature\": a lower-case "
                                   "letter, then lower-case letters, "
                                   "digits, \"_\", \"-\", \".\" or \"*\"",
                                   &v);
                return NGX_CONF_ERROR;
            }

            hs->label = v;
            continue;
        }

        if (ngx_strcmp(value[i].data, "key=base64") == 0) {
            key_base64 = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "created=on") == 0) {
            hs->created = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "created=off") == 0) {
            hs->created = 0;
            continue;
        }

        if (ngx_strncmp(value[i].data, "expires=", 8) == 0) {
            v.data = value[i].data + 8;
            v.len = value[i].len - 8;

            n = ngx_parse_time(&v, 1);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"http_signature\": "
                                   "a time in seconds", &value[i]);
                return NGX_CONF_ERROR;
            }

            hs->expires = (time_t) n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"http_signature\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (hs->keyid.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"http_signature\" needs \"keyid=\", the key's "
                           "name the upstream knows");
        return NGX_CONF_ERROR;
    }

    if (hs->alg == NGX_EDGE_AUTH_HTTPSIG_HMAC_SHA256) {
        /* the shared secret as text (a file's trailing newline dropped) */
        if (ngx_edge_auth_secret(cf, &value[2], &v, "http_signature")
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (!key_base64 || ngx_process == NGX_PROCESS_SIGNALLER) {
            hs->key = v;
            return NGX_CONF_OK;
        }

        /* "key=base64": the secret's bytes in base64, as RFC 9421 B.1.5 */

        hs->key.data = ngx_pnalloc(cf->pool, ngx_base64_decoded_length(v.len));
        if (hs->key.data == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_decode_base64(&hs->key, &v);
        ngx_explicit_memzero(v.data, v.len);

        if (rc != NGX_OK || hs->key.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "http_signature: the key is not base64 "
                               "(\"key=base64\")");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (key_base64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"key=base64\" is for \"hmac-sha256\" keys");
        return NGX_CONF_ERROR;
    }

    if (ngx_edge_auth_secret_bytes(cf, &value[2], &pem, "http_signature")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* "nginx -s reload" reads no key (see ngx_edge_auth_secret) */

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_CONF_OK;
    }

    if (ngx_edge_auth_private_key(cf, &pem, "http_signature", &hs->pkey)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (EVP_PKEY_id(hs->pkey) != EVP_PKEY_ED25519) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "http_signature: \"ed25519\" needs an Ed25519 "
                           "private key");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* keyid and tag: sf-strings (RFC 8941 3.3.3), written without escapes */

static ngx_int_t
ngx_http_credential_httpsig_sf_string(ngx_conf_t *cf, ngx_str_t *value,
    const char *what)
{
    ngx_uint_t  i;

    for (i = 0; i < value->len; i++) {
        if (value->data[i] < 0x20 || value->data[i] > 0x7e
            || value->data[i] == '"' || value->data[i] == '\\')
        {
            break;
        }
    }

    if (value->len == 0 || i < value->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s in \"http_signature\": printable "
                           "ASCII without \"\"\" or \"\\\"", what);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_credential_httpsig_components(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_httpsig_t *hs = conf;

    u_char                                   *p;
    ngx_str_t                                *value, name;
    ngx_uint_t                                i, j;
    ngx_http_credential_httpsig_component_t  *c, *d, *have;

    if (hs->components) {
        return "is duplicate";
    }

    hs->components = ngx_array_create(cf->pool, cf->args->nelts - 1,
                            sizeof(ngx_http_credential_httpsig_component_t));
    if (hs->components == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        name.len = value[i].len;
        name.data = ngx_pnalloc(cf->pool, name.len);
        if (name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(name.data, value[i].data, name.len);

        have = hs->components->elts;

        for (j = 0; j < hs->components->nelts; j++) {
            if (have[j].name.len == name.len
                && ngx_strncmp(have[j].name.data, name.data, name.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "component \"%V\" is covered twice",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        c = ngx_array_push(hs->components);
        if (c == NULL) {
            return NGX_CONF_ERROR;
        }

        c->name = name;

        if (name.len && name.data[0] == '@') {

            for (d = ngx_http_credential_httpsig_derived; d->name.len; d++) {
                if (d->name.len == name.len
                    && ngx_strncmp(d->name.data, name.data, name.len) == 0)
                {
                    break;
                }
            }

            if (d->name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown derived component \"%V\": "
                                   "\"@method\", \"@target-uri\", "
                                   "\"@authority\", \"@scheme\", \"@path\" "
                                   "or \"@query\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            c->kind = d->kind;
            continue;
        }

        /* a field name: an RFC 9110 token */

        for (p = name.data; p < name.data + name.len; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                  || ngx_strchr("!#$%&'*+-.^_`|~", *p) != NULL))
            {
                break;
            }
        }

        if (name.len == 0 || p < name.data + name.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid component \"%V\": a derived "
                               "component or a header name", &value[i]);
            return NGX_CONF_ERROR;
        }

        if ((name.len == 9 && ngx_strncmp(name.data, "signature", 9) == 0)
            || (name.len == 15
                && ngx_strncmp(name.data, "signature-input", 15) == 0)
            || (name.len == 4 && ngx_strncmp(name.data, "host", 4) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "component \"%V\" cannot be covered (the "
                               "proxy sets Host: cover \"@authority\")",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (name.len == 14
            && ngx_strncmp(name.data, "content-digest", 14) == 0)
        {
            c->kind = NGX_HTTP_HTTPSIG_CDIGEST;
            continue;
        }

        c->kind = NGX_HTTP_HTTPSIG_FIELD;
    }

    return NGX_CONF_OK;
}


/* http_signature_authority HOST [scheme=https|http]; */

static char *
ngx_http_credential_httpsig_authority(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_httpsig_t *hs = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (hs->authority) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_str_set(&hs->scheme, "https");

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "scheme=http") == 0) {
            ngx_str_set(&hs->scheme, "http");

        } else if (ngx_strcmp(value[2].data, "scheme=https") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in "
                               "\"http_signature_authority\": "
                               "\"scheme=https\" or \"scheme=http\"",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    hs->authority = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (hs->authority == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = hs->authority;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_credential_httpsig_finish(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred)
{
    ngx_str_t                                *s;
    ngx_uint_t                                i;
    ngx_http_credential_httpsig_t            *hs;
    ngx_http_credential_httpsig_component_t  *c;

    hs = cred->httpsig;

    if (hs->alg == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" has \"http_signature_*\" but "
                           "no \"http_signature\"", &cred->name);
        return NGX_ERROR;
    }

    if (cred->login || cred->body || cred->answer || cred->sigv4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"http_signature\" cannot be "
                           "combined with a login, \"body_json\", answer "
                           "codes or \"aws_sigv4\"", &cred->name);
        return NGX_ERROR;
    }

    if (hs->created == NGX_CONF_UNSET) {
        hs->created = 1;
    }

    if (hs->components == NULL) {
        /* "@method" "@target-uri" "@authority" */
        hs->components = ngx_array_create(cf->pool, 3,
                            sizeof(ngx_http_credential_httpsig_component_t));
        if (hs->components == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < 3; i++) {
            c = ngx_array_push(hs->components);
            if (c == NULL) {
                return NGX_ERROR;
            }

            *c = ngx_http_credential_httpsig_derived[i];
        }
    }

    c = hs->components->elts;

    for (i = 0; i < hs->components->nelts; i++) {
        if (c[i].kind == NGX_HTTP_HTTPSIG_CDIGEST) {
            hs->digest = 1;
        }

        if (c[i].kind == NGX_HTTP_HTTPSIG_TARGET_URI
            || c[i].kind == NGX_HTTP_HTTPSIG_AUTHORITY)
        {
            hs->uri = 1;
        }
    }

    if (hs->uri && hs->authority == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"@authority\" and "
                           "\"@target-uri\" need \"http_signature_authority"
                           "\", the host the upstream sees", &cred->name);
        return NGX_ERROR;
    }

    if (hs->scheme.len == 0) {
        ngx_str_set(&hs->scheme, "https");
    }

    if (ngx_http_credential_upstream_computed(cf, cmcf, cred, hs->headers,
                                              ngx_http_credential_httpsig_names,
                                              NGX_HTTP_HTTPSIG_HEADERS,
                                              "http_signature")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* masked in debug logs */

    if (hs->key.len) {
        s = ngx_array_push(&cmcf->secrets);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = hs->key;
    }

    return NGX_OK;
}


/* the request */

ngx_int_t
ngx_http_credential_httpsig_sign(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t **extra, ngx_uint_t *nextra)
{
    u_char                                   *p, *base, *params, *sig;
    u_char                                   *digest;
    size_t                                    len, plen, siglen;
    time_t                                    now, created, expires;
    ngx_int_t                                 rc;
    ngx_str_t                                 authority, path, args, cdigest;
    ngx_str_t                                *values;
    ngx_uint_t                                i, n, nh;
    ngx_table_elt_t                          *h;
    ngx_http_credential_ctx_t                *ctx;
    ngx_edge_auth_httpsig_str_t              *names, keyid, tag;
    ngx_http_credential_httpsig_t            *hs;
    ngx_http_credential_httpsig_component_t  *c;

    hs = cred->httpsig;

    ctx = ngx_http_credential_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the digest first: it may take reading the body */

    cdigest.len = 0;
    cdigest.data = NULL;

    if (hs->digest) {
        rc = ngx_http_credential_upstream_body(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }

        cdigest.data = ngx_pnalloc(r->pool,
                                   NGX_EDGE_AUTH_HTTPSIG_DIGEST_LEN + 1);
        digest = ngx_pnalloc(r->pool, NGX_HTTP_CREDENTIAL_SHA256_LEN);

        if (cdigest.data == NULL || digest == NULL
            || ngx_http_credential_upstream_sha256(r, digest) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cdigest.len = ngx_edge_auth_httpsig_digest(cdigest.data, digest);
    }

    authority.len = 0;
    authority.data = NULL;

    if (hs->authority) {
        if (ngx_http_complex_value(r, hs->authority, &authority) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (authority.len == 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "credential \"%V\": http_signature_authority is "
                          "empty", &cred->name);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* RFC 9421 2.2.3: the authority in lower case */
        p = ngx_pnalloc(r->pool, authority.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_strlow(p, authority.data, authority.len);
        authority.data = p;
    }

    if (ngx_http_credential_upstream_uri(r, &path, &args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (path.len == 0) {
        ngx_str_set(&path, "/");
    }

    /* the value of each covered component; an absent header is left out */

    c = hs->components->elts;
    n = hs->components->nelts;

    names = ngx_palloc(r->pool, n * sizeof(ngx_edge_auth_httpsig_str_t));
    values = ngx_palloc(r->pool, n * sizeof(ngx_str_t));
    if (names == NULL || values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nh = 0;
    len = 0;

    for (i = 0; i < n; i++) {

        switch (c[i].kind) {

        case NGX_HTTP_HTTPSIG_METHOD:
            values[nh] = *ngx_http_credential_upstream_method(r);
            break;

        case NGX_HTTP_HTTPSIG_AUTHORITY:
            values[nh] = authority;
            break;

        case NGX_HTTP_HTTPSIG_SCHEME:
            values[nh] = hs->scheme;
            break;

        case NGX_HTTP_HTTPSIG_PATH:
            values[nh] = path;
            break;

        case NGX_HTTP_HTTPSIG_QUERY:
            /* RFC 9421 2.2.7: "?" and the query, "?" when there is none */
            p = ngx_pnalloc(r->pool, 1 + args.len);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            values[nh].data = p;
            *p++ = '?';
            p = ngx_cpymem(p, args.data, args.len);
            values[nh].len = p - values[nh].data;
            break;

        case NGX_HTTP_HTTPSIG_TARGET_URI:
            p = ngx_pnalloc(r->pool, hs->scheme.len + 3 + authority.len
                                     + path.len + 1 + args.len);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            values[nh].data = p;
            p = ngx_sprintf(p, "%V://%V%V", &hs->scheme, &authority, &path);

            if (args.data) {
                *p++ = '?';
                p = ngx_cpymem(p, args.data, args.len);
            }

            values[nh].len = p - values[nh].data;
            break;

        case NGX_HTTP_HTTPSIG_CDIGEST:
            values[nh] = cdigest;
            break;

        default: /* NGX_HTTP_HTTPSIG_FIELD */
            rc = ngx_http_credential_httpsig_field(r, cred, &c[i].name,
                                                   &values[nh]);
            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                continue;
            }
        }

        names[nh].data = c[i].name.data;
        names[nh].len = c[i].name.len;

        /* "name": value LF */
        len += 1 + names[nh].len + 3 + values[nh].len + 1;
        nh++;
    }

    now = ngx_time();
    created = hs->created ? now : NGX_EDGE_AUTH_HTTPSIG_NO_TIME;
    expires = hs->expires ? now + hs->expires : NGX_EDGE_AUTH_HTTPSIG_NO_TIME;

    keyid.data = hs->keyid.data;
    keyid.len = hs->keyid.len;
    tag.data = hs->tag.data;
    tag.len = hs->tag.len;

    plen = ngx_edge_auth_httpsig_params_len(names, nh, &keyid,
                                            tag.len ? &tag : NULL);

    /* Signature-Input: label=params, its params in the base's last line */

    params = ngx_pnalloc(r->pool, hs->label.len + 1 + plen);
    base = ngx_pnalloc(r->pool, len + sizeof("\"@signature-params\": ") - 1
                                + plen);
    sig = ngx_pnalloc(r->pool, NGX_EDGE_AUTH_HTTPSIG_SIG_LEN + 1);

    if (params == NULL || base == NULL || sig == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(params, hs->label.data, hs->label.len);
    *p++ = '=';

    plen = ngx_edge_auth_httpsig_params(p, names, nh, created, expires,
                                        &keyid, tag.len ? &tag : NULL);

    p = base;

    for (i = 0; i < nh; i++) {
        *p++ = '"';
        p = ngx_cpymem(p, names[i].data, names[i].len);
        p = ngx_cpymem(p, "\": ", 3);
        p = ngx_cpymem(p, values[i].data, values[i].len);
        *p++ = LF;
    }

    p = ngx_cpymem(p, "\"@signature-params\": ",
                   sizeof("\"@signature-params\": ") - 1);
    p = ngx_cpymem(p, params + hs->label.len + 1, plen);

    siglen = ngx_edge_auth_httpsig_sign(sig, hs->alg, hs->key.data,
                                        hs->key.len, hs->pkey, base,
                                        p - base);

    /* the base carries no secret, but header values: it is not kept */
    ngx_explicit_memzero(base, p - base);

    if (siglen == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "credential \"%V\": signing failed", &cred->name);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = hs->digest ? NGX_HTTP_HTTPSIG_HEADERS : NGX_HTTP_HTTPSIG_HEADERS - 1;

    h = ngx_palloc(r->pool, n * sizeof(ngx_table_elt_t));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        h[i] = hs->headers[i];
    }

    h[NGX_HTTP_HTTPSIG_INPUT].value.data = params;
    h[NGX_HTTP_HTTPSIG_INPUT].value.len = hs->label.len + 1 + plen;

    p = ngx_pnalloc(r->pool, hs->label.len + 3 + siglen);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h[NGX_HTTP_HTTPSIG_SIGNATURE].value.data = p;
    p = ngx_cpymem(p, hs->label.data, hs->label.len);
    p = ngx_cpymem(p, "=:", 2);
    p = ngx_cpymem(p, sig, siglen);
    *p++ = ':';
    h[NGX_HTTP_HTTPSIG_SIGNATURE].value.len =
                                p - h[NGX_HTTP_HTTPSIG_SIGNATURE].value.data;

    if (hs->digest) {
        h[NGX_HTTP_HTTPSIG_DIGEST].value = cdigest;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential \"%V\": signed %ui components%s", &cred->name,
                   nh, hs->digest ? " and the body's digest" : "");

    *extra = h;
    *nextra = n;

    return NGX_OK;
}


/*
 * A header's value as the upstream gets it (RFC 9421 2.1): the
 * credential's own "header" in place of the client's, else each of the
 * client's fields of that name, trimmed, joined by ", ".  NGX_DECLINED:
 * the request has none.
 */

static ngx_int_t
ngx_http_credential_httpsig_field(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *name, ngx_str_t *value)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         v;
    ngx_uint_t        i, n, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    h = cred->headers.elts;

    for (i = 0; i < cred->headers.nelts; i++) {
        if (h[i].key.len == name->len
            && ngx_http_credential_same_name(h[i].lowcase_key, name->data,
                                             name->len))
        {
            *value = h[i].value;
            ngx_http_credential_httpsig_trim(value);
            return NGX_OK;
        }
    }

    /* twice: the length, then the value */

    len = 0;
    n = 0;
    p = NULL;

    for (pass = 0; pass < 2; pass++) {

        if (pass == 1) {
            if (n == 0) {
                return NGX_DECLINED;
            }

            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            value->data = p;
            n = 0;
        }

        part = &r->headers_in.headers.part;
        h = part->elts;

        for (i = 0; /* void */; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash == 0 || h[i].key.len != name->len
                || ngx_strncmp(h[i].lowcase_key, name->data, name->len) != 0)
            {
                continue;
            }

            v = h[i].value;
            ngx_http_credential_httpsig_trim(&v);

            if (pass == 0) {
                len += v.len + (n ? 2 : 0);

            } else {
                if (n) {
                    *p++ = ',';
                    *p++ = ' ';
                }

                p = ngx_cpymem(p, v.data, v.len);
            }

            n++;
        }
    }

    value->len = p - value->data;

    return NGX_OK;
}


static void
ngx_http_credential_httpsig_trim(ngx_str_t *value)
{
    while (value->len
           && (value->data[0] == ' ' || value->data[0] == '\t'))
    {
        value->data++;
        value->len--;
    }

    while (value->len
           && (value->data[value->len - 1] == ' '
               || value->data[value->len - 1] == '\t'))
    {
        value->len--;
    }
}
