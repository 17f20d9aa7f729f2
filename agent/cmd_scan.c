/* cmd_scan.c - not written yet */
