/*
 * fuzz_config.c - libFuzzer target: vg_config_load on arbitrary YAML. The
 * input is written to one memfd created once per process and loaded through
 * its /proc/self/fd path; the configuration is destroyed right after.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_config.yml", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    vg_config *c = NULL;
    vg_errbuf eb = {0};
    if (vg_config_load(path, &c, &eb) == VG_OK) {
        if (!c)
            abort();
        vg_config_destroy(c);
    } else if (c) {
        vg_config_destroy(c);
    }
    return 0;
}
