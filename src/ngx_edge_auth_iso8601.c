
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_iso8601.h"


static int ngx_edge_auth_iso8601_digits(const u_char *p, size_t n,
    int *value);


int
ngx_edge_auth_iso8601_parse(const u_char *p, size_t len, int64_t *msec)
{
    int      year, month, day, hour, min, sec, frac, scale, oh, om, sign;
    int64_t  y, era, yoe, doy, doe, days, t;
    size_t   i;

    static const int  mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len >= 5 && p[4] == '-') {

        /* extended: YYYY-MM-DDTHH:MM:SS */

        if (len < 19
            || ngx_edge_auth_iso8601_digits(p, 4, &year)
            || ngx_edge_auth_iso8601_digits(p + 5, 2, &month)
            || p[7] != '-'
            || ngx_edge_auth_iso8601_digits(p + 8, 2, &day)
            || (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
            || ngx_edge_auth_iso8601_digits(p + 11, 2, &hour)
            || p[13] != ':'
            || ngx_edge_auth_iso8601_digits(p + 14, 2, &min)
            || p[16] != ':'
            || ngx_edge_auth_iso8601_digits(p + 17, 2, &sec))
        {
            return -1;
        }

        i = 19;

    } else {

        /* basic: YYYYMMDDTHHMMSS */

        if (len < 15
            || ngx_edge_auth_iso8601_digits(p, 4, &year)
            || ngx_edge_auth_iso8601_digits(p + 4, 2, &month)
            || ngx_edge_auth_iso8601_digits(p + 6, 2, &day)
            || (p[8] != 'T' && p[8] != 't')
            || ngx_edge_auth_iso8601_digits(p + 9, 2, &hour)
            || ngx_edge_auth_iso8601_digits(p + 11, 2, &min)
            || ngx_edge_auth_iso8601_digits(p + 13, 2, &sec))
        {
            return -1;
        }

        i = 15;
    }

    /* 24:00:00 is the end of the day: the next one's midnight */

    if (year < 1970 || month < 1 || month > 12 || day < 1
        || day > mdays[month - 1]
        || (month == 2 && day == 29
            && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        || hour > 24 || min > 59 || sec > 60
        || (hour == 24 && (min != 0 || sec != 0)))
    {
        return -1;
    }

    /* fraction: milliseconds are kept, finer digits dropped */

    frac = 0;

    if (i < len && p[i] == '.') {
        i++;
        scale = 100;

        if (i == len || p[i] < '0' || p[i] > '9') {
            return -1;
        }

        while (i < len && p[i] >= '0' && p[i] <= '9') {
            frac += (p[i] - '0') * scale;
            scale /= 10;
            i++;
        }

        if (hour == 24 && frac != 0) {
            return -1;
        }
    }

    /* zone: Z, +HH:MM, +HHMM, +HH, -HH:MM; none is read as UTC */

    oh = 0;
    om = 0;
    sign = 1;

    if (i < len) {
        if (p[i] == 'Z' || p[i] == 'z') {
            i++;

        } else if (p[i] == '+' || p[i] == '-') {
            sign = (p[i] == '-') ? -1 : 1;
            i++;

            if (len - i < 2 || ngx_edge_auth_iso8601_digits(p + i, 2, &oh)) {
                return -1;
            }

            i += 2;

            /* an hour-only offset, "+02", ends the text */

            if (i < len) {
                if (p[i] == ':') {
                    i++;
                }

                if (len - i < 2
                    || ngx_edge_auth_iso8601_digits(p + i, 2, &om))
                {
                    return -1;
                }

                i += 2;
            }

            if (oh > 23 || om > 59) {
                return -1;
            }
        }
    }

    if (i != len) {
        return -1;
    }

    /* days from 1970-01-01 (H. Hinnant's days_from_civil) */

    y = year - (month <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;

    t = ((days * 24 + hour) * 60 + min) * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);

    *msec = t * 1000 + frac;

    return 0;
}


static int
ngx_edge_auth_iso8601_digits(const u_char *p, size_t n, int *value)
{
    size_t  i;

    *value = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        *value = *value * 10 + (p[i] - '0');
    }

    return 0;
}
