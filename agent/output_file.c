/* output_file.c - not written yet */
