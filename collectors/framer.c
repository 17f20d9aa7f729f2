/* framer.c - not written yet */
