/* test_parse.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(parse, placeholder)
{
    cr_assert(1);
}
