/* test_journal.c - placeholder until the module's tests are written. */
#include <criterion/criterion.h>

Test(journal, placeholder)
{
    cr_assert(1);
}
