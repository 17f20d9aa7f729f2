/*
 * yara_tests.c - `vigie rules test` for YARA rules: the cases of a sidecar
 * file next to each rule file, `<file>.yar.tests` (YAML, read with libyaml):
 *
 *   - rule: vg_miner_stratum_url        # name or namespace:name
 *     line: "xmrig -o stratum+tcp://pool.example:3333"
 *     match: true
 *
 * Each line is scanned alone as an event's raw text (externals empty), as
 * the agent does. The extension keeps the sidecar out of the Sigma loader.
 */
#include "yara_tests.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../agent/json.h"
#include "detector.h"
#include "yara_det.h"

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
    (void)doc;
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void report(FILE *out, bool json, bool verbose, const char *file, int line,
                   const char *rule, const char *text, bool ok, bool want, const char *why)
{
    if (json) {
        vg_buf b;
        vg_buf_init(&b, 1 << 20);
        vg_buf_puts(&b, "{\"file\":");
        vg_json_cstr(&b, file);
        vg_buf_printf(&b, ",\"line\":%d,\"rule\":", line);
        vg_json_cstr(&b, rule);
        vg_buf_printf(&b, ",\"ruleset\":\"yara\",\"ok\":%s,\"expected_match\":%s,\"input\":",
                      ok ? "true" : "false", want ? "true" : "false");
        vg_json_cstr(&b, text);
        if (!ok) {
            vg_buf_puts(&b, ",\"reason\":");
            vg_json_cstr(&b, why);
        }
        vg_buf_puts(&b, "}\n");
        (void)fwrite(b.p, 1, b.n, out); /* stdout: checked at exit (main.c) */
        vg_buf_free(&b);
    } else if (!ok) {
        fprintf(out, "FAIL %s:%d: %s: %s\n  line: %s\n", file, line, rule, why, text);
    } else if (verbose) {
        fprintf(out, "ok   %s:%d: %s\n", file, line, rule);
    }
}

static void run_file(const void *det, void *scr, const char *path, const vg_yara_test_opts *o,
                     vg_yara_test_report *r)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    r->files++;
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &doc)) {
        char why[300];
        snprintf(why, sizeof why, "not YAML: %s", p.problem ? p.problem : "?");
        report(o->out, o->json, o->verbose, path, (int)p.problem_mark.line + 1, "-", "", false,
               false, why);
        r->failed++;
        yaml_parser_delete(&p);
        (void)fclose(f); /* read only: nothing to lose */
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && root->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = root->data.sequence.items.start;
             it < root->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(&doc, *it);
            const char *rule = NULL, *line = NULL, *match = NULL;
            int ln = c ? (int)c->start_mark.line + 1 : 0;
            for (yaml_node_pair_t *kv = c && c->type == YAML_MAPPING_NODE
                                            ? c->data.mapping.pairs.start : NULL;
                 kv && kv < c->data.mapping.pairs.top; kv++) {
                const char *k = scalar(&doc, yaml_document_get_node(&doc, kv->key));
                const char *v = scalar(&doc, yaml_document_get_node(&doc, kv->value));
                if (!k)
                    continue;
                if (!strcmp(k, "rule"))
                    rule = v;
                else if (!strcmp(k, "line"))
                    line = v;
                else if (!strcmp(k, "match"))
                    match = v;
            }
            bool want = match && (!strcmp(match, "true") || !strcmp(match, "yes"));
            const char *why = NULL;
            if (!rule || !line || !match) {
                why = "a case needs rule, line and match";
            } else {
                int got = vg_detector_yara_test_line(det, scr, rule, line);
                if (got < 0)
                    why = "no such YARA rule is loaded";
                else if ((got == 1) != want)
                    why = want ? "expected a match, got none" : "expected no match, got one";
            }
            report(o->out, o->json, o->verbose, path, ln, rule ? rule : "-", line ? line : "",
                   !why, want, why);
            why ? r->failed++ : r->passed++;
        }
    } else if (root) {
        report(o->out, o->json, o->verbose, path, 1, "-", "", false, false,
               "expected a list of cases");
        r->failed++;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    (void)fclose(f); /* read only: nothing to lose */
}

void vg_yara_run_tests(const void *det, const vg_yara_test_opts *o, vg_yara_test_report *r)
{
    memset(r, 0, sizeof *r);
    if (!det)
        return;
    void *scr = vg_detector_yara.scratch_create(det);
    if (!scr)
        return;
    for (size_t i = 0; i < vg_detector_yara_nfiles(det); i++) {
        const char *p = vg_detector_yara_file(det, i);
        if (!p)
            continue;
        char t[4200];
        snprintf(t, sizeof t, "%s.tests", p);
        run_file(det, scr, t, o, r);
    }
    vg_detector_yara.scratch_destroy(scr);
}
