/* cmd_config.c - `vigie config check|reference`. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"

int vg_cmd_config(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: vigie config check [-c FILE]\n"
                "       vigie config reference [--format markdown|man]\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "reference")) {
        /* --format man: the vigie.yml(5) page (built by meson, see man/). */
        bool man = argc >= 4 && !strcmp(argv[2], "--format") && !strcmp(argv[3], "man");
        if (argc > 2 && !man && !(argc == 4 && !strcmp(argv[2], "--format") &&
                                  !strcmp(argv[3], "markdown"))) {
            fprintf(stderr, "usage: vigie config reference [--format markdown|man]\n");
            return 2;
        }
        if (man)
            vg_config_reference_man(stdout);
        else
            vg_config_reference(stdout);
        return fflush(stdout) ? 1 : 0;
    }
    if (strcmp(argv[1], "check")) {
        fprintf(stderr, "vigie config: unknown subcommand '%s'\n", argv[1]);
        return 2;
    }
    const char *path = VG_DEFAULT_CONFIG;
    static const struct option lo[] = {{"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
        if (o == 'c')
            path = optarg;
        else
            return 2;
    }
    vg_config *cfg;
    vg_errbuf eb;
    if (vg_config_load(path, &cfg, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    printf("%s: OK (%zu inputs, %zu outputs, %zu rule paths, %zu overrides)\n", path,
           cfg->ninputs, cfg->noutputs, cfg->rule_paths.n, cfg->noverrides);
    vg_config_destroy(cfg);
    return 0;
}
