/* parse_raw.c - not written yet */
