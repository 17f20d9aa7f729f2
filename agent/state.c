/* state.c - not written yet */
