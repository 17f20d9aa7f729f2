/* logsource.c - not written yet */
