/*
 * fuzz_scan_gz.c - libFuzzer target: `vigie scan` on a hostile file, plain
 * or gzip: zlib's gzread through the line framer, the format guess from the
 * name and the first lines, the parsers, the rules and the alert output.
 *
 * The first input byte says how the rest becomes the scanned file, in a
 * directory made once per process (under /dev/shm when it exists):
 *   bits 0-1: 0 the bytes as they are (the fuzzer may write a gzip header
 *             itself), 1 gzip-compressed, 2 compressed then cut in the
 *             middle (a truncated archive), 3 two gzip members (the bytes
 *             split in half: a rotated log concatenated with another);
 *   bits 2-4: the file name (auth.log, access.log.1.gz, audit.log,
 *             events.ndjson, or a name that says nothing: the content
 *             decides).
 * vg_cmd_scan runs on it with two small rule files (written once) and JSON
 * output (stdout goes to /dev/null). It must return 0, 1 or 2 and nothing
 * may crash, leak or hang.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/cmd.h"
#include "agent/log.h"

static char dir[128], rules[192];

static const char RULES[] =
    "title: ssh failure\nid: f-1\nlogsource: {product: linux, service: auth}\n"
    "detection: {sel: {program: sshd, message|contains: Failed}, condition: sel}\nlevel: high\n"
    "---\n"
    "title: traversal\nid: f-2\nlogsource: {category: webserver}\n"
    "detection: {sel: {cs-uri-query|contains: '../'}, condition: sel}\nlevel: medium\n"
    "---\n"
    "title: any line\nid: f-3\nlogsource: {product: linux}\n"
    "detection: {kw: ['root'], condition: kw}\nlevel: low\n";

/* gzip of p[0..n) appended to out (one member); false on failure. */
static bool gz_member(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out + *len;
    z.avail_out = (uInt)(cap - *len);
    int r = deflate(&z, Z_FINISH);
    *len += z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/vg-fuzz-scan-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        snprintf(rules, sizeof rules, "%s/rules.yml", dir);
        FILE *f = fopen(rules, "w");
        if (!f || fputs(RULES, f) < 0)
            abort();
        fclose(f);
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
            abort();
        close(fd);
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    static const char *const names[8] = {
        "auth.log", "access.log.1.gz", "audit.log",   "events.ndjson",
        "data",     "data.gz",         "secure-2024", "x.json.gz"};
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, names[(mode >> 2) & 7]);
    size_t cap = size + size / 8 + 256, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        abort();
    switch (mode & 3) {
    case 0:
        memcpy(buf, data, size);
        len = size;
        break;
    case 1:
    case 2:
        if (!gz_member(data, size, buf, cap, &len))
            abort();
        if ((mode & 3) == 2)
            len = len / 2 + (size & 7);
        break;
    case 3:
        if (!gz_member(data, size / 2, buf, cap, &len) ||
            !gz_member(data + size / 2, size - size / 2, buf, cap, &len))
            abort();
        break;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(buf, 1, len, f) != len))
        abort();
    fclose(f);
    free(buf);

    char *argv[] = {"scan", "-q", "-o", "json", "-r", rules, path, NULL};
    optind = 0; /* getopt starts over for each call */
    int rc = vg_cmd_scan(7, argv);
    if (rc < 0 || rc > 2)
        abort();
    unlink(path);
    return 0;
}
