/* test_framer.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(framer, placeholder)
{
    cr_assert(1);
}
