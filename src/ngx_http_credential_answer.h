
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The partner's answer codes: attempts as subrequests, retries.
 */


#ifndef _NGX_HTTP_CREDENTIAL_ANSWER_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_ANSWER_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_ctx.h"


/* the partner's answer codes: ngx_http_credential_answer.c */

struct ngx_http_credential_answer_conf_s {
    ngx_str_t                    code;      /* JSON path in the answer */
    ngx_str_t                    retry;     /* the code that is retried */
    ngx_array_t                  delays;    /* ngx_msec_t */
    ngx_array_t                  fail;      /* ngx_str_t codes */
    size_t                       max_size;
    ngx_uint_t                   refused;   /* this worker's count */
};


extern ngx_command_t  ngx_http_credential_answer_commands[];
void *ngx_http_credential_get_answer(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_answer_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_answer_init(ngx_conf_t *cf);
ngx_int_t ngx_http_credential_answer_start(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_body_ctx_t *bctx);
ngx_int_t ngx_http_credential_answer_resume(ngx_http_request_t *r,
    ngx_http_credential_body_ctx_t *bctx);


#endif /* _NGX_HTTP_CREDENTIAL_ANSWER_H_INCLUDED_ */
