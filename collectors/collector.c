/* collector.c - not written yet */
