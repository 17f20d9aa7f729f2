/* tail.c - not written yet */
