/* alert.c - not written yet */
