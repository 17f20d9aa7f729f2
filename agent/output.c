/* output.c - not written yet */
