
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Secrets in the configuration: "env:NAME", "file:/path" or a literal.
 * Values are resolved by the master at configuration time, so workers
 * need no environment and no access to the files.
 */


#include "ngx_edge_auth_secret.h"


static ngx_int_t ngx_edge_auth_secret_read(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_str_t *secret, const char *what, ngx_uint_t binary);
static ngx_int_t ngx_edge_auth_secret_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *secret, const char *what, ngx_uint_t binary);
static ngx_int_t ngx_edge_auth_secret_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *secret, const char *what, ngx_uint_t binary);
static ngx_int_t ngx_edge_auth_secret_check(ngx_conf_t *cf, ngx_str_t *secret,
    const char *what, const char *source, ngx_str_t *source_name);


ngx_int_t
ngx_edge_auth_secret(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *secret,
    const char *what)
{
    return ngx_edge_auth_secret_read(cf, arg, secret, what, 0);
}


/* key material: any bytes, the file as it is */

ngx_int_t
ngx_edge_auth_secret_bytes(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *secret,
    const char *what)
{
    return ngx_edge_auth_secret_read(cf, arg, secret, what, 1);
}


static ngx_int_t
ngx_edge_auth_secret_read(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *secret,
    const char *what, ngx_uint_t binary)
{
    ngx_str_t  name;

    /*
     * "nginx -s reload" parses the configuration only to find the pid
     * file: it may run without the variables and files the master reads.
     */

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        ngx_str_set(secret, "-");
        return NGX_OK;
    }

    if (arg->len > 4 && ngx_strncmp(arg->data, "env:", 4) == 0) {
        name.len = arg->len - 4;
        name.data = arg->data + 4;

        return ngx_edge_auth_secret_env(cf, &name, secret, what, binary);
    }

    if (arg->len > 5 && ngx_strncmp(arg->data, "file:", 5) == 0) {
        name.len = arg->len - 5;
        name.data = arg->data + 5;

        return ngx_edge_auth_secret_file(cf, &name, secret, what, binary);
    }

    if (arg->len == 4 && ngx_strncmp(arg->data, "env:", 4) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: \"env:\" must be followed by the name of an "
                           "environment variable", what);
        return NGX_ERROR;
    }

    if (arg->len == 5 && ngx_strncmp(arg->data, "file:", 5) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: \"file:\" must be followed by a path", what);
        return NGX_ERROR;
    }

    *secret = *arg;

    if (binary) {
        return NGX_OK;
    }

    return ngx_edge_auth_secret_check(cf, secret, what, "the value", NULL);
}


static ngx_int_t
ngx_edge_auth_secret_env(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *secret,
    const char *what, ngx_uint_t binary)
{
    u_char  *var, *value;

    var = ngx_pnalloc(cf->temp_pool, name->len + 1);
    if (var == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(var, name->data, name->len + 1);

    /* the master keeps its whole environment; workers need none of it */
    value = (u_char *) getenv((char *) var);

    if (value == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: environment variable \"%V\" is not set",
                           what, name);
        return NGX_ERROR;
    }

    secret->len = ngx_strlen(value);
    secret->data = ngx_pnalloc(cf->pool, secret->len);
    if (secret->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(secret->data, value, secret->len);

    if (binary) {
        return NGX_OK;
    }

    return ngx_edge_auth_secret_check(cf, secret, what,
                                      "environment variable", name);
}


static ngx_int_t
ngx_edge_auth_secret_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *secret,
    const char *what, ngx_uint_t binary)
{
    off_t            size;
    ssize_t          n;
    ngx_str_t        path;
    ngx_int_t        rc;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: cannot open secret file \"%V\"", what, &path);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: cannot stat secret file \"%V\"", what, &path);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: secret file \"%V\" is not a regular file",
                           what, &path);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_EDGE_AUTH_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: secret file \"%V\" is larger than %d bytes",
                           what, &path, NGX_EDGE_AUTH_SECRET_MAX);
        goto done;
    }

    if (fi.st_mode & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "%s: secret file \"%V\" is readable by every user",
                           what, &path);
    }

    secret->data = ngx_pnalloc(cf->pool, (size_t) size + 1);
    if (secret->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, secret->data, (size_t) size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if (n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: secret file \"%V\" changed while it was read",
                           what, &path);
        goto done;
    }

    secret->len = (size_t) n;

    if (binary) {
        rc = NGX_OK;
        goto done;
    }

    /* one trailing newline is how editors and "echo" end a file */

    if (secret->len && secret->data[secret->len - 1] == LF) {
        secret->len--;

        if (secret->len && secret->data[secret->len - 1] == CR) {
            secret->len--;
        }
    }

    rc = ngx_edge_auth_secret_check(cf, secret, what, "secret file", &path);

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    return rc;
}


static ngx_int_t
ngx_edge_auth_secret_check(ngx_conf_t *cf, ngx_str_t *secret,
    const char *what, const char *source, ngx_str_t *source_name)
{
    size_t  i;

    if (secret->len == 0) {
        if (source_name) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s: %s \"%V\" is empty",
                               what, source, source_name);
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s: %s is empty",
                               what, source);
        }

        return NGX_ERROR;
    }

    for (i = 0; i < secret->len; i++) {

        if (secret->data[i] >= 0x20 && secret->data[i] != 0x7f) {
            continue;
        }

        /* the position and byte only: never the secret itself */

        if (source_name) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s: %s \"%V\" contains the control byte "
                               "0x%02Xd at offset %uz; CR, LF, NUL and other "
                               "control bytes are not allowed in a value "
                               "that becomes a header",
                               what, source, source_name,
                               (ngx_uint_t) secret->data[i], i);
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s: %s contains the control byte 0x%02Xd at "
                               "offset %uz; CR, LF, NUL and other control "
                               "bytes are not allowed in a value that "
                               "becomes a header",
                               what, source, (ngx_uint_t) secret->data[i], i);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_basic(ngx_conf_t *cf, ngx_str_t *user, ngx_str_t *password,
    ngx_uint_t escape, ngx_str_t *value)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   pair, b64;
    uintptr_t   type;

    type = NGX_ESCAPE_URI_COMPONENT;
    len = user->len + 1 + password->len;

    if (escape) {
        len += 2 * ngx_escape_uri(NULL, user->data, user->len, type)
               + 2 * ngx_escape_uri(NULL, password->data, password->len,
                                    type);
    }

    pair.data = ngx_pnalloc(cf->temp_pool, len);
    if (pair.data == NULL) {
        return NGX_ERROR;
    }

    if (escape) {
        p = (u_char *) ngx_escape_uri(pair.data, user->data, user->len,
                                      type);
        *p++ = ':';
        p = (u_char *) ngx_escape_uri(p, password->data, password->len,
                                      type);

    } else {
        p = ngx_cpymem(pair.data, user->data, user->len);
        *p++ = ':';
        p = ngx_cpymem(p, password->data, password->len);
    }

    pair.len = p - pair.data;

    value->len = sizeof("Basic ") - 1 + ngx_base64_encoded_length(pair.len);
    value->data = ngx_pnalloc(cf->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    b64.data = ngx_cpymem(value->data, "Basic ", sizeof("Basic ") - 1);
    ngx_encode_base64(&b64, &pair);

    /* the pair lives no longer than the configuration run */
    ngx_explicit_memzero(pair.data, pair.len);

    return NGX_OK;
}
