/* cmd_config.c - not written yet */
