/* sigma.c - not written yet */
