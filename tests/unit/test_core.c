/* test_core.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(core, placeholder)
{
    cr_assert(1);
}
