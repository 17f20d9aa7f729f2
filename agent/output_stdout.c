/* output_stdout.c - not written yet */
