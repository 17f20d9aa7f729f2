/* cmd_rules.c - not written yet */
