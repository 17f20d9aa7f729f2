/* tz.c - not written yet */
