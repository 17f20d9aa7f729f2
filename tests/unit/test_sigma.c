/* test_sigma.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(sigma, placeholder)
{
    cr_assert(1);
}
