/* main.c - the `vigie` binary: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vigie <command> [options]\n"
            "\n"
            "commands:\n"
            "  run [-c FILE]                 run the agent (foreground)\n"
            "  scan [--rules PATH]... FILE... one pass of the rules over files (plain or .gz)\n"
            "  rules check PATH...           compile rules, report rejections\n"
            "  rules test PATH...            run the test cases written in the rules\n"
            "  rules explain RULE LINE       show how a line is parsed and matched\n"
            "  alerts [-c FILE] [--since 1h] [--min-level high] [--rule ID]\n"
            "                                this host's alerts from the local files and spool\n"
            "  status [--check]              the running agent's statistics / a monitoring verdict\n"
            "  send-test-alert [-c FILE]     one harmless alert through every configured output\n"
            "  config check [-c FILE]        validate a configuration\n"
            "  config reference              print every configuration option\n"
            "  version                       print the version\n"
            "\n"
            "`vigie <command> --help` for a command's options.\n");
}

/* A command whose output could not be written (disk full, closed pipe)
   fails instead of exiting 0 with a truncated result; the commands' own
   writes to stdout are not checked one by one. Not for `run`, whose stdout
   output counts its own write errors. */
static int stdout_ok(int rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "vigie: error writing the standard output\n");
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "run"))
        return vg_cmd_run(argc - 1, argv + 1);
    if (!strcmp(c, "scan"))
        return stdout_ok(vg_cmd_scan(argc - 1, argv + 1));
    if (!strcmp(c, "rules"))
        return stdout_ok(vg_cmd_rules(argc - 1, argv + 1));
    if (!strcmp(c, "config"))
        return stdout_ok(vg_cmd_config(argc - 1, argv + 1));
    if (!strcmp(c, "status"))
        return stdout_ok(vg_cmd_status(argc - 1, argv + 1));
    if (!strcmp(c, "send-test-alert"))
        return stdout_ok(vg_cmd_send_test(argc - 1, argv + 1));
    if (!strcmp(c, "alerts"))
        return stdout_ok(vg_cmd_alerts(argc - 1, argv + 1));
    if (!strcmp(c, "version") || !strcmp(c, "--version")) {
        printf("vigie %s\n", VG_VERSION);
        return stdout_ok(0);
    }
    if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
        usage(stdout);
        return stdout_ok(0);
    }
    fprintf(stderr, "vigie: unknown command '%s'\n", c);
    usage(stderr);
    return 2;
}
