
/*
 * Unit tests, printing TAP, for Redis Cluster's hash slots: CRC16 on its
 * published check value, slots that redis-server's CLUSTER KEYSLOT gives,
 * and the hash tag rules of the cluster specification.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_edge_auth_redis_slot.h"


static int  test_no;
static int  failed;


static void
ok(int cond, const char *name)
{
    test_no++;

    if (!cond) {
        failed++;
    }

    printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, name);
}


static unsigned
slot(const char *key)
{
    return ngx_edge_auth_redis_slot((const unsigned char *) key,
                                    strlen(key));
}


typedef struct {
    const char  *key;
    unsigned     slot;
} slot_case_t;


/* CLUSTER KEYSLOT of redis-server 7 */

static const slot_case_t  slot_cases[] = {
    { "foo", 12182 },
    { "bar", 5061 },
    { "hello", 866 },
    { "", 0 },
    { "123456789", 12739 },
    { "{user1000}.following", 3443 },
    { "{user1000}.followers", 3443 },
    { "user1000", 3443 },
    { "foo{}{bar}", 8363 },
    { "foo{{bar}}zap", 4015 },
    { "foo{bar}{zap}", 5061 },
    { "{bar", 4015 },
    { "nginx:credential:token:{0123456789abcdef0123456789abcdef}", 1829 },
};


int
main(void)
{
    char        name[160];
    size_t      i;
    const char  *check = "123456789";

    /* the XMODEM check value, as in the cluster specification */
    ok(ngx_edge_auth_redis_crc16((const unsigned char *) check, 9) == 0x31c3,
       "CRC16 of \"123456789\" is 0x31c3");

    for (i = 0; i < sizeof(slot_cases) / sizeof(slot_cases[0]); i++) {
        snprintf(name, sizeof(name), "slot of \"%s\" is %u (got %u)",
                 slot_cases[i].key, slot_cases[i].slot,
                 slot(slot_cases[i].key));
        ok(slot(slot_cases[i].key) == slot_cases[i].slot, name);
    }

    ok(slot("{user1000}.following") == slot("{user1000}.followers"),
       "keys with one hash tag share a slot");
    ok(slot("nginx:credential:token:{0123456789abcdef0123456789abcdef}")
       == slot("nginx:credential:lease:{0123456789abcdef0123456789abcdef}"),
       "a credential's token and lease share a slot");

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
