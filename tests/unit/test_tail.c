/* test_tail.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(tail, placeholder)
{
    cr_assert(1);
}
