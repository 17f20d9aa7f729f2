/* parse_json.c - not written yet */
