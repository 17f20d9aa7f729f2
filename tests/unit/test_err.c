/* test_err.c - vg_errbuf formatting. */
#include <criterion/criterion.h>
#include <string.h>

#include "agent/err.h"

Test(err, formats_and_returns_code)
{
    vg_errbuf eb;
    cr_assert_eq(vg_errf(&eb, VG_EPARSE, "%s:%d:%d: expected %s", "a.yml", 3, 7, "a map"), VG_EPARSE);
    cr_assert_str_eq(eb.msg, "a.yml:3:7: expected a map");
    vg_err_prefix(&eb, "loading %s", "x");
    cr_assert_str_eq(eb.msg, "loading x: a.yml:3:7: expected a map");
    cr_assert_eq(vg_errf(NULL, VG_EIO, "ignored"), VG_EIO);
}
