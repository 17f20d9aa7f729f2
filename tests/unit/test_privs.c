/* test_privs.c - capability names, /proc/self/status fields, the root refusal. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "agent/privs.h"

Test(privs, capability_masks)
{
    static const struct {
        const char *names[3];
        size_t n;
        uint64_t mask;
        vg_err rc;
    } t[] = {
        {{NULL}, 0, 0, VG_OK},
        {{"cap_dac_read_search"}, 1, 1u << 2, VG_OK},
        {{"CAP_DAC_READ_SEARCH", "cap_net_bind_service"}, 2, (1u << 2) | (1u << 10), VG_OK},
        {{"cap_chown", "cap_setuid"}, 2, (1u << 0) | (1u << 7), VG_OK},
        {{"cap_nonsense"}, 1, 0, VG_ECONFIG},
        {{"cap_chown", ""}, 2, 0, VG_ECONFIG},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        vg_strlist l = {(char **)t[i].names, t[i].n};
        uint64_t m = 99;
        vg_errbuf eb;
        vg_err rc = vg_privs_cap_mask(&l, &m, &eb);
        cr_expect_eq(rc, t[i].rc, "case %zu", i);
        if (rc == VG_OK)
            cr_expect_eq(m, t[i].mask, "case %zu: %llx", i, (unsigned long long)m);
        else
            cr_expect(strstr(eb.msg, "agent.capabilities") != NULL, "%s", eb.msg);
    }
}

Test(privs, status_fields)
{
    const char *st = "Name:\tvigie\nUid:\t998\t998\t998\t998\nGid:\t997\t997\t997\t997\n"
                     "CapInh:\t0000000000000000\nCapPrm:\t0000000000000004\n"
                     "CapEff:\t0000000000000004\nCapBnd:\t000001ffffffffff\n";
    uint64_t v = 0;
    cr_assert_eq(vg_privs_status_field(st, "CapEff", &v), 0);
    cr_assert_eq(v, 4);
    cr_assert_eq(vg_privs_status_field(st, "CapBnd", &v), 0);
    cr_assert_eq(v, 0x1ffffffffffull);
    cr_assert_eq(vg_privs_status_field(st, "Uid", &v), 0);
    cr_assert_eq(v, 998);
    cr_assert_eq(vg_privs_status_field(st, "Cap", &v), -1);
    cr_assert_eq(vg_privs_status_field(st, "NoSuch", &v), -1);
    cr_assert_eq(vg_privs_status_field("", "CapEff", &v), -1);
    cr_assert_eq(vg_privs_status_field("CapEff:\tzz\n", "CapEff", &v), -1);
}

Test(privs, root_without_user_refused_unless_allowed)
{
    vg_config c;
    memset(&c, 0, sizeof c);
    vg_errbuf eb;
    if (geteuid() != 0) {
        /* Not root: nothing to drop, never an error. */
        cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_OK);
        return;
    }
    cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_EPERM);
    cr_assert(strstr(eb.msg, "--allow-root") != NULL, "%s", eb.msg);
    cr_assert_eq(vg_privs_drop(&c, true, &eb), VG_OK);
    cr_assert_eq(geteuid(), 0, "--allow-root: still root");
}

Test(privs, unknown_user_group_or_capability)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (the checks happen only when there is something to drop)");
    vg_config c;
    memset(&c, 0, sizeof c);
    vg_errbuf eb;
    c.user = "no-such-user-vigie-test";
    cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_ECONFIG);
    cr_assert(strstr(eb.msg, "no-such-user-vigie-test") != NULL, "%s", eb.msg);
    c.user = "nobody";
    c.group = "no-such-group-vigie-test";
    cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_ECONFIG);
    cr_assert(strstr(eb.msg, "agent.group") != NULL, "%s", eb.msg);
    char *caps[] = {"cap_bogus"};
    c.group = NULL;
    c.capabilities.v = caps;
    c.capabilities.n = 1;
    cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_ECONFIG);
    c.user = "root";
    c.capabilities.n = 0;
    cr_assert_eq(vg_privs_drop(&c, false, &eb), VG_EPERM);
    cr_assert_eq(geteuid(), 0);
}
