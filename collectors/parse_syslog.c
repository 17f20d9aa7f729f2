/* parse_syslog.c - not written yet */
