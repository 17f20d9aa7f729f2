/* sigma_cond.c - not written yet */
