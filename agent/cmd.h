/*
 * cmd.h - the subcommands of the `vigie` binary. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status documented in vigie(8) and the README.
 */
#ifndef VG_CMD_H
#define VG_CMD_H

#include "../detectors/rule.h"

int vg_cmd_run(int argc, char **argv);
int vg_cmd_scan(int argc, char **argv);
int vg_cmd_rules(int argc, char **argv);
int vg_cmd_config(int argc, char **argv);
int vg_cmd_status(int argc, char **argv);
int vg_cmd_send_test(int argc, char **argv);
int vg_cmd_alerts(int argc, char **argv);

/* Print a rule diagnostic as "file:line:col: error: msg" on stderr. */
void vg_cmd_print_diag(void *ud, const vg_diag *d);

#define VG_DEFAULT_CONFIG "/etc/vigie/vigie.yml"

#endif
