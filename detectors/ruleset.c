/* ruleset.c - not written yet */
