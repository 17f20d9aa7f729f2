/* sigma_value.c - not written yet */
