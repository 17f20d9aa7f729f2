/* parse_access.c - not written yet */
