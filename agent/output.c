/* output.c - output registry and the readable alert line; see output.h. */
#include "output.h"

#include <string.h>
#include <time.h>

static const vg_output_ops *const registry[] = {&vg_output_stdout, &vg_output_file, NULL};

const vg_output_ops *vg_output_find(const char *type)
{
    for (size_t i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->type, type))
            return registry[i];
    return NULL;
}

void vg_alert_text(vg_buf *b, const vg_alert *a, bool color)
{
    static const char *const col[] = {"\033[37m", "\033[36m", "\033[33m", "\033[1;31m",
                                      "\033[1;35m"};
    static const char *const name[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    const vg_rule_meta *r = a->rule;
    const vg_event *ev = a->ev;
    int rank = r->level_rank >= 0 && r->level_rank <= 4 ? r->level_rank : 2;
    int64_t ts = ev->ts_ns ? ev->ts_ns : a->created_ns;
    time_t s = (time_t)(ts / 1000000000);
    struct tm tm;
    localtime_r(&s, &tm);
    char t[32];
    if (!strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm))
        t[0] = '\0'; /* contents undefined when it does not fit */
    vg_buf_puts(b, t);
    vg_buf_putc(b, ' ');
    if (color)
        vg_buf_puts(b, col[rank]);
    vg_buf_printf(b, "%-8s", name[rank]);
    if (color)
        vg_buf_puts(b, "\033[0m\033[1m");
    vg_text_safe(b, r->title ? r->title : "?", r->title ? strlen(r->title) : 1);
    if (color)
        vg_buf_puts(b, "\033[0m");
    for (size_t i = 0; i < r->tags.n; i++)
        if (!strncmp(r->tags.v[i], "attack.t", 8)) {
            vg_buf_puts(b, " [");
            vg_text_safe(b, r->tags.v[i] + 7, strlen(r->tags.v[i] + 7));
            vg_buf_putc(b, ']');
            break;
        }
    if (a->summary) { /* a correlation or suppressed alert: its count and group */
        vg_buf_puts(b, " (");
        vg_text_safe(b, a->summary, strlen(a->summary));
        vg_buf_putc(b, ')');
    }
    if (ev->stream && ev->stream->name) {
        vg_buf_puts(b, color ? " \033[2m" : " ");
        vg_text_safe(b, ev->stream->name, strlen(ev->stream->name));
        vg_buf_printf(b, ":%llu", (unsigned long long)ev->offset);
        if (color)
            vg_buf_puts(b, "\033[0m");
    }
    vg_buf_puts(b, "\n    ");
    size_t n = ev->raw.n > 400 ? 400 : ev->raw.n;
    vg_text_safe(b, ev->raw.p ? ev->raw.p : "", n);
    if (n < ev->raw.n)
        vg_buf_puts(b, "…");
    vg_buf_putc(b, '\n');
}
