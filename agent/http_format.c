/*
 * http_format.c - request bodies and answer verdicts of the http presets;
 * see http_format.h.
 *
 * Items are parsed with jansson (they are JSON objects built by the alert
 * module, but a corrupt or foreign item must not break a whole batch: it is
 * rejected alone). Every string written goes through vg_json_str, so the
 * body is valid JSON whatever the item holds.
 */
#include "http_format.h"

#include "reckeys.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libdeflate.h>

static const char *const preset_names[] = {"webhook", "clickhouse", "elasticsearch", "splunk_hec",
                                           "loki"};

vg_err vg_http_preset_parse(const char *name, vg_http_preset *out, vg_errbuf *eb)
{
    if (!name) {
        *out = VG_HTTP_WEBHOOK;
        return VG_OK;
    }
    for (size_t i = 0; i < sizeof preset_names / sizeof *preset_names; i++)
        if (!strcmp(name, preset_names[i])) {
            *out = (vg_http_preset)i;
            return VG_OK;
        }
    return vg_errf(eb, VG_ECONFIG,
                   "preset: unknown \"%s\" (clickhouse, elasticsearch, splunk_hec, loki, webhook)",
                   name);
}

const char *vg_http_preset_name(vg_http_preset p)
{
    return (unsigned)p < sizeof preset_names / sizeof *preset_names ? preset_names[p] : "?";
}

char *vg_http_url_join(const char *base, const char *path)
{
    size_t nb = strlen(base);
    while (nb && base[nb - 1] == '/')
        nb--;
    while (*path == '/')
        path++;
    char *s;
    if (asprintf(&s, "%.*s/%s", (int)nb, base, path) < 0)
        return NULL;
    return s;
}

vg_err vg_http_post_url(vg_http_preset p, const char *base, const char *table, char **out,
                        vg_errbuf *eb)
{
    *out = NULL;
    if (!base || !*base)
        return vg_errf(eb, VG_ECONFIG, "url: required for http outputs");
    const char *path = NULL;
    switch (p) {
    case VG_HTTP_CLICKHOUSE: {
        if (!table || !*table)
            return vg_errf(eb, VG_ECONFIG, "table: required for the clickhouse preset");
        for (const char *c = table; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
                return vg_errf(eb, VG_ECONFIG,
                               "table: \"%s\" may hold only letters, digits, '_' and '.' "
                               "(database.table)",
                               table);
        /* Unknown JSON keys are skipped so a table may drop columns it does
           not want; rows are written in one block per request. */
        const char *sep = strchr(base, '?') ? "&" : "?";
        if (asprintf(out,
                     "%s%squery=INSERT%%20INTO%%20%s%%20FORMAT%%20JSONEachRow"
                     "&input_format_skip_unknown_fields=1",
                     base, sep, table) < 0) {
            *out = NULL;
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
        return VG_OK;
    }
    case VG_HTTP_ELASTICSEARCH:
        path = "_bulk";
        break;
    case VG_HTTP_SPLUNK_HEC:
        path = "services/collector/event";
        break;
    case VG_HTTP_LOKI:
        path = "loki/api/v1/push";
        break;
    case VG_HTTP_WEBHOOK:
        break;
    }
    *out = path ? vg_http_url_join(base, path) : strdup(base);
    return *out ? VG_OK : vg_errf(eb, VG_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Reading items */

/* obj.a.b as a JSON value: nested objects first, then a dotted key ("a.b"). */
static json_t *get2(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    if (b) {
        v = json_is_object(v) ? json_object_get(v, b) : NULL;
        if (!v) {
            char k[128];
            snprintf(k, sizeof k, "%s.%s", a, b);
            v = json_object_get(root, k);
        }
    }
    return v;
}

/* A string member as (p, n); "" when absent or not a string. */
static const char *gets(json_t *root, const char *a, const char *b, size_t *n)
{
    json_t *v = get2(root, a, b);
    if (json_is_string(v)) {
        *n = json_string_length(v);
        return json_string_value(v);
    }
    *n = 0;
    return "";
}

static void put_str(vg_buf *b, json_t *root, const char *a, const char *c)
{
    size_t n;
    const char *s = gets(root, a, c, &n);
    vg_json_str(b, s, n);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, size_t at, size_t len, int *v)
{
    if (at + len > n)
        return false;
    int x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return false;
        x = x * 10 + (s[at + i] - '0');
    }
    *v = x;
    return true;
}

bool vg_http_parse_time(const char *s, size_t n, int64_t *ns)
{
    int Y, M, D, h, m, sec;
    if (!digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || !digits(s, n, 5, 2, &M) ||
        s[7] != '-' || !digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s, n, 11, 2, &h) || s[13] != ':' || !digits(s, n, 14, 2, &m) || s[16] != ':' ||
        !digits(s, n, 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        int k = 0;
        for (i++; i < n && isdigit((unsigned char)s[i]); i++, k++)
            if (k < 9)
                frac = frac * 10 + (s[i] - '0');
        if (!k)
            return false;
        for (; k < 9; k++)
            frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            !digits(s, n, i + 4, 2, &om))
            return false;
        off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t t =
        days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec - off;
    if (t < -9223372035LL || t > 9223372035LL) /* ns since 1970 fit in int64: 1677..2262 */
        return false;
    *ns = t * 1000000000 + frac;
    return true;
}

static int64_t item_time(json_t *root, const vg_http_fmt *f)
{
    size_t n;
    const char *s = gets(root, "@timestamp", NULL, &n);
    int64_t ns;
    if (n && vg_http_parse_time(s, n, &ns))
        return ns;
    return f->now_ns;
}

/* The item as one line of JSON: its own bytes when they hold no control
   byte (the usual case: the alert writer escapes them all), else jansson's
   compact rewrite (a newline as whitespace would split the NDJSON line, and
   jansson accepts a raw NUL between tokens). */
static void put_item(vg_buf *b, const vg_send_item *it, json_t *root)
{
    const unsigned char *p = (const unsigned char *)it->data;
    size_t i = 0;
    while (i < it->len && p[i] >= 0x20)
        i++;
    if (i == it->len) {
        vg_buf_append(b, it->data, it->len);
        return;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        b->overflow = true; /* out of memory: the caller splits/retries */
        return;
    }
    vg_buf_puts(b, s);
    free(s);
}

static void floor_div(int64_t ns, int64_t *sec, int64_t *sub)
{
    *sec = ns / 1000000000;
    *sub = ns % 1000000000;
    if (*sub < 0) {
        *sub += 1000000000;
        (*sec)--;
    }
}

/* ------------------------------------------------------------------ */
/* Per-preset rows */

static void row_clickhouse(vg_buf *b, const vg_send_item *it, json_t *root, const vg_http_fmt *f)
{
    int64_t sec, sub;
    floor_div(item_time(root, f), &sec, &sub);
    if (sec < 0) /* DateTime is unsigned */
        sec = 0, sub = 0;
    if (sec > 4294967295LL)
        sec = 4294967295LL;
    json_t *sv = get2(root, "event", "severity");
    json_int_t sev = json_is_integer(sv) ? json_integer_value(sv) : 0;
    if (sev < 0 || sev > 255)
        sev = 0;
    vg_buf_printf(b, "{\"timestamp\":%lld,\"timestamp_ns\":%lld,\"event_id\":", (long long)sec,
                  (long long)sub);
    put_str(b, root, "event", "id");
    vg_buf_puts(b, ",\"kind\":");
    put_str(b, root, "event", "kind");
    vg_buf_puts(b, ",\"host\":");
    put_str(b, root, "host", "name");
    vg_buf_puts(b, ",\"agent_id\":");
    put_str(b, root, "agent", "id");
    vg_buf_puts(b, ",\"rule_id\":");
    put_str(b, root, "rule", "id");
    vg_buf_puts(b, ",\"rule_title\":");
    put_str(b, root, "rule", "name");
    vg_buf_puts(b, ",\"level\":");
    put_str(b, root, "rule", "level");
    vg_buf_printf(b, ",\"severity\":%lld,\"source_ip\":", (long long)sev);
    put_str(b, root, "source", "ip");
    vg_buf_puts(b, ",\"user_name\":");
    put_str(b, root, "user", "name");
    vg_buf_puts(b, ",\"message\":");
    put_str(b, root, "message", NULL);
    vg_buf_puts(b, ",\"raw\":");
    vg_json_str(b, it->data, it->len);
    vg_buf_puts(b, "}\n");
}

static void row_elasticsearch(vg_buf *b, const vg_send_item *it, json_t *root, const vg_http_fmt *f)
{
    vg_buf_puts(b, "{\"create\":{\"_index\":");
    vg_json_cstr(b, f->index ? f->index : "vigie-alerts");
    size_t n;
    const char *id = gets(root, "event", "id", &n);
    if (n) {
        vg_buf_puts(b, ",\"_id\":");
        vg_json_str(b, id, n);
    }
    vg_buf_puts(b, "}}\n");
    put_item(b, it, root);
    vg_buf_putc(b, '\n');
}

static void row_splunk(vg_buf *b, const vg_send_item *it, json_t *root, const vg_http_fmt *f)
{
    int64_t sec, sub;
    floor_div(item_time(root, f), &sec, &sub);
    vg_buf_printf(b, "{\"time\":%lld.%06lld,\"host\":", (long long)sec, (long long)(sub / 1000));
    put_str(b, root, "host", "name");
    vg_buf_puts(b, ",\"sourcetype\":\"vigie\",\"event\":");
    put_item(b, it, root);
    vg_buf_puts(b, "}\n");
}

static void row_webhook(vg_buf *b, const vg_send_item *it, json_t *root)
{
    put_item(b, it, root);
    vg_buf_putc(b, '\n');
}

/* ---- fast path: items with a key index (reckeys.h) are Vigie's own JSON,
   built with every value escaped; their rows are assembled from the
   recorded tokens without parsing. */

/* The token of key i, or the empty JSON string. */
static void put_tok(vg_buf *b, const vg_send_item *it, vg_rk i)
{
    size_t n;
    const char *t = vg_reckeys_tok(it->keys, it->data, i, &n);
    if (t)
        vg_buf_append(b, t, n);
    else
        vg_buf_puts(b, "\"\"");
}

static bool tok_is(const vg_send_item *it, vg_rk i, const char *quoted)
{
    size_t n;
    const char *t = vg_reckeys_tok(it->keys, it->data, i, &n);
    return t && n == strlen(quoted) && !memcmp(t, quoted, n);
}

static void fast_clickhouse(vg_buf *b, const vg_send_item *it, const vg_http_fmt *f)
{
    int64_t sec, sub;
    floor_div(it->keys->ts_ns ? it->keys->ts_ns : f->now_ns, &sec, &sub);
    if (sec < 0)
        sec = 0, sub = 0;
    if (sec > 4294967295LL)
        sec = 4294967295LL;
    /* Constant columns first, varying ones last: consecutive rows then share
       one long prefix, which deflate encodes as a single match. */
    vg_buf_puts(b, "{\"kind\":");
    put_tok(b, it, VG_RK_KIND);
    vg_buf_puts(b, ",\"host\":");
    put_tok(b, it, VG_RK_HOST);
    vg_buf_puts(b, ",\"agent_id\":");
    put_tok(b, it, VG_RK_AGENT);
    vg_buf_puts(b, ",\"log_path\":");
    put_tok(b, it, VG_RK_PATH);
    if (!tok_is(it, VG_RK_KIND, "\"event\"")) {
        vg_buf_puts(b, ",\"rule_id\":");
        put_tok(b, it, VG_RK_RULE_ID);
        vg_buf_puts(b, ",\"rule_title\":");
        put_tok(b, it, VG_RK_RULE_NAME);
        vg_buf_puts(b, ",\"level\":");
        put_tok(b, it, VG_RK_LEVEL);
        vg_buf_puts(b, ",\"severity\":");
        vg_buf_i64(b, it->keys->severity);
        vg_buf_puts(b, ",\"source_ip\":");
        put_tok(b, it, VG_RK_SOURCE_IP);
        vg_buf_puts(b, ",\"user_name\":");
        put_tok(b, it, VG_RK_USER);
        vg_buf_puts(b, ",\"raw\":");
        vg_json_str(b, it->data, it->len);
    }
    /* A forwarded raw event is only these columns (no rule, no parsed
       fields, no `raw` copy): it comes in volume and must compress well. */
    vg_buf_puts(b, ",\"timestamp\":");
    vg_buf_i64(b, sec);
    vg_buf_puts(b, ",\"timestamp_ns\":");
    vg_buf_i64(b, sub);
    vg_buf_puts(b, ",\"message\":");
    put_tok(b, it, VG_RK_MESSAGE);
    /* The id last: "…","event_id":"<stream>:<n>"}\n{"kind":… up to the next
       message is then one long repeat with only the line number new. */
    vg_buf_puts(b, ",\"event_id\":");
    put_tok(b, it, VG_RK_ID);
    vg_buf_puts(b, "}\n");
}

/* Rows of an indexed item; false for presets without a fast path. */
static bool fast_row(vg_buf *b, const vg_send_item *it, const vg_http_fmt *f)
{
    switch (f->preset) {
    case VG_HTTP_CLICKHOUSE:
        fast_clickhouse(b, it, f);
        return true;
    case VG_HTTP_WEBHOOK:
        vg_buf_append(b, it->data, it->len);
        vg_buf_putc(b, '\n');
        return true;
    case VG_HTTP_ELASTICSEARCH:
        vg_buf_puts(b, "{\"create\":{\"_index\":");
        vg_json_cstr(b, f->index ? f->index : "vigie-alerts");
        if (it->keys->len[VG_RK_ID]) {
            vg_buf_puts(b, ",\"_id\":");
            put_tok(b, it, VG_RK_ID);
        }
        vg_buf_puts(b, "}}\n");
        vg_buf_append(b, it->data, it->len);
        vg_buf_putc(b, '\n');
        return true;
    default:
        return false;
    }
}

/* Parse one item; NULL when it is not a JSON object. */
static json_t *parse_item(const vg_send_item *it)
{
    json_error_t jerr;
    json_t *r = it->data ? json_loadb(it->data, it->len, JSON_ALLOW_NUL, &jerr) : NULL;
    if (!json_is_object(r)) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* Loki: items grouped into streams by their label values (host, kind,
   level), each stream's values in item order. A first pass keeps, per item,
   its time and its labels (copied into one arena, so each parsed tree is
   freed at once: keeping thousands alive costs more in malloc than the
   parse itself). */
typedef struct loki_item {
    int64_t ns;
    size_t off[3], len[3]; /* label values in the arena */
    size_t stream;
    bool ok;
} loki_item;

static bool loki_eq(const vg_buf *arena, const loki_item *a, const loki_item *b)
{
    for (int i = 0; i < 3; i++)
        if (a->len[i] != b->len[i] ||
            (a->len[i] && memcmp(arena->p + a->off[i], arena->p + b->off[i], a->len[i])))
            return false;
    return true;
}

static vg_err body_loki(const vg_http_fmt *f, const vg_send_item *items, size_t n,
                        vg_send_status *status, size_t *nsent, vg_buf *b, vg_errbuf *eb)
{
    static const char *const names[3] = {"host", "kind", "level"};
    static const char *const keys[3][2] = {{"host", "name"}, {"event", "kind"}, {"rule", "level"}};
    vg_err e = VG_OK;
    vg_buf arena;
    vg_buf_init(&arena, b->max);
    loki_item *li = calloc(n ? n : 1, sizeof *li);
    size_t *first = calloc(n ? n : 1, sizeof *first), nstreams = 0;
    if (!li || !first) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = parse_item(&items[i]);
        status[i] = r ? VG_SEND_OK : VG_SEND_REJECT;
        if (!r)
            continue;
        (*nsent)++;
        li[i].ok = true;
        li[i].ns = item_time(r, f);
        for (int k = 0; k < 3; k++) {
            const char *v = gets(r, keys[k][0], keys[k][1], &li[i].len[k]);
            li[i].off[k] = arena.n;
            vg_buf_append(&arena, v, li[i].len[k]);
        }
        json_decref(r);
        size_t s = 0;
        while (s < nstreams && !loki_eq(&arena, &li[first[s]], &li[i]))
            s++;
        if (s == nstreams)
            first[nstreams++] = i;
        li[i].stream = s;
    }
    if (arena.overflow) {
        b->overflow = true;
        goto out;
    }
    vg_buf_puts(b, "{\"streams\":[");
    for (size_t s = 0; s < nstreams; s++) {
        const loki_item *l = &li[first[s]];
        vg_buf_puts(b, s ? ",{\"stream\":{" : "{\"stream\":{");
        bool any = false;
        for (int k = 0; k < 3; k++) {
            if (!l->len[k])
                continue; /* Loki drops empty labels anyway */
            vg_buf_printf(b, "%s\"%s\":", any ? "," : "", names[k]);
            vg_json_str(b, arena.p + l->off[k], l->len[k]);
            any = true;
        }
        vg_buf_puts(b, "},\"values\":[");
        bool comma = false;
        for (size_t i = first[s]; i < n; i++) {
            if (!li[i].ok || li[i].stream != s)
                continue;
            vg_buf_printf(b, "%s[\"%lld\",", comma ? "," : "",
                          (long long)(li[i].ns > 0 ? li[i].ns : 0));
            vg_json_str(b, items[i].data, items[i].len);
            vg_buf_putc(b, ']');
            comma = true;
        }
        vg_buf_puts(b, "]}");
    }
    vg_buf_puts(b, "]}");
out:
    vg_buf_free(&arena);
    free(li);
    free(first);
    return e;
}

vg_err vg_http_body(const vg_http_fmt *f, const vg_send_item *items, size_t n,
                    vg_send_status *status, size_t *nsent, vg_buf *b, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    vg_buf_reset(b);
    *nsent = 0;
    if (f->preset == VG_HTTP_LOKI) {
        if ((e = body_loki(f, items, n, status, nsent, b, eb)))
            return e;
    } else {
        /* One item at a time: parse, write, free (or, for Vigie's own
           indexed records, write from the index). */
        for (size_t i = 0; i < n; i++) {
            if (items[i].keys && !b->overflow && fast_row(b, &items[i], f)) {
                status[i] = VG_SEND_OK;
                (*nsent)++;
                continue;
            }
            json_t *r = parse_item(&items[i]);
            status[i] = r ? VG_SEND_OK : VG_SEND_REJECT;
            if (!r)
                continue;
            (*nsent)++;
            if (!b->overflow) {
                switch (f->preset) {
                case VG_HTTP_CLICKHOUSE:
                    row_clickhouse(b, &items[i], r, f);
                    break;
                case VG_HTTP_ELASTICSEARCH:
                    row_elasticsearch(b, &items[i], r, f);
                    break;
                case VG_HTTP_SPLUNK_HEC:
                    row_splunk(b, &items[i], r, f);
                    break;
                case VG_HTTP_WEBHOOK:
                case VG_HTTP_LOKI:
                    row_webhook(b, &items[i], r);
                    break;
                }
            }
            json_decref(r);
        }
    }
    if (!*nsent)
        vg_buf_reset(b);
    if (b->overflow)
        e = vg_errf(eb, VG_ELIMIT, "request body larger than %zu bytes", b->max);
    return e;
}

/* ------------------------------------------------------------------ */
/* Answers */

/* ClickHouse error codes that mean "this data cannot be inserted" (18.16
   answers them with HTTP 500): CANNOT_PARSE_TEXT 6, CANNOT_PARSE_QUOTED_STRING
   26, CANNOT_PARSE_INPUT_ASSERTION_FAILED 27, CANNOT_PARSE_DATE 38,
   CANNOT_PARSE_DATETIME 41, TYPE_MISMATCH 53, CANNOT_CONVERT_TYPE 70,
   CANNOT_PARSE_NUMBER 72, INCORRECT_DATA 117, CANNOT_READ_ALL_DATA 33,
   TOO_LARGE_STRING_SIZE 131, CANNOT_PARSE_ESCAPE_SEQUENCE 25,
   CANNOT_PARSE_UUID 376. */
static bool ch_data_error(const char *body, size_t blen)
{
    static const int codes[] = {6, 25, 26, 27, 33, 38, 41, 53, 70, 72, 117, 131, 376};
    size_t n = blen < 256 ? blen : 256;
    for (size_t i = 0; i + 6 < n; i++) {
        if (memcmp(body + i, "Code: ", 6))
            continue;
        int c = 0;
        size_t j = i + 6;
        for (; j < n && j < i + 12 && isdigit((unsigned char)body[j]); j++)
            c = c * 10 + (body[j] - '0');
        if (j == i + 6)
            return false;
        for (size_t k = 0; k < sizeof codes / sizeof *codes; k++)
            if (codes[k] == c)
                return true;
        return false;
    }
    return false;
}

/* A short, terminal-safe excerpt of an answer body for messages. */
static void excerpt(char *out, size_t cap, const char *body, size_t blen)
{
    size_t o = 0;
    for (size_t i = 0; i < blen && o + 5 < cap && i < 300; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

vg_err vg_http_classify(vg_http_preset p, long status, const char *body, size_t blen, size_t nsent,
                        bool *reject_all, vg_errbuf *eb)
{
    char ex[400];
    excerpt(ex, sizeof ex, body ? body : "", body ? blen : 0);
    *reject_all = false;
    if (status >= 200 && status < 300)
        return VG_OK;
    if (status == 401 || status == 403)
        return vg_errf(eb, VG_EPERM,
                       "HTTP %ld: refused; check the token, password or client "
                       "certificate (%s)",
                       status, ex);
    if (status == 413)
        return vg_errf(eb, VG_ELIMIT, "HTTP 413: request too large (%s)", ex);
    bool refused = status == 400 || status == 422 ||
                   (p == VG_HTTP_CLICKHOUSE && status == 500 && body && ch_data_error(body, blen));
    if (refused) {
        if (nsent > 1)
            return vg_errf(eb, VG_ELIMIT, "HTTP %ld: data refused, splitting the batch (%s)",
                           status, ex);
        *reject_all = true;
        vg_errf(eb, VG_OK, "HTTP %ld: item refused (%s)", status, ex);
        return VG_OK;
    }
    return vg_errf(eb, VG_EAGAIN, "HTTP %ld (%s)", status, ex);
}

vg_err vg_http_es_items(const char *body, size_t blen, vg_send_status *status, size_t n,
                        vg_errbuf *eb)
{
    json_error_t jerr;
    vg_err e = VG_OK;
    json_t *root = body ? json_loadb(body, blen, JSON_ALLOW_NUL, &jerr) : NULL;
    json_t *its = json_object_get(root, "items");
    if (!json_is_array(its)) {
        e = vg_errf(eb, VG_EPARSE, "elasticsearch: answer without \"items\" array");
        goto out;
    }
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += status[i] != VG_SEND_REJECT;
    if (json_array_size(its) != want) {
        e = vg_errf(eb, VG_EPARSE, "elasticsearch: %zu items in the answer for %zu sent",
                    json_array_size(its), want);
        goto out;
    }
    size_t k = 0;
    size_t nretry = 0, nreject = 0;
    char first_err[200] = "";
    for (size_t i = 0; i < n; i++) {
        if (status[i] == VG_SEND_REJECT)
            continue;
        json_t *it = json_array_get(its, k++);
        /* {"create":{...,"status":201}}: one key, the action */
        json_t *act = json_is_object(it) ? json_object_iter_value(json_object_iter(it)) : NULL;
        json_t *st = json_object_get(act, "status");
        json_int_t code = json_is_integer(st) ? json_integer_value(st) : 0;
        if ((code >= 200 && code < 300) || code == 409) {
            status[i] = VG_SEND_OK;
        } else if (code == 429 || code >= 500 || code == 0) {
            status[i] = VG_SEND_RETRY;
            nretry++;
        } else {
            status[i] = VG_SEND_REJECT;
            nreject++;
            if (!first_err[0]) {
                json_t *r = json_object_get(json_object_get(act, "error"), "reason");
                snprintf(first_err, sizeof first_err, "%lld %s", (long long)code,
                         json_is_string(r) ? json_string_value(r) : "");
            }
        }
    }
    if (nretry || nreject)
        vg_errf(eb, VG_OK, "elasticsearch: %zu item(s) to retry, %zu rejected%s%s", nretry, nreject,
                first_err[0] ? ": " : "", first_err);
out:
    json_decref(root);
    return e;
}

vg_err vg_http_hec_ackid(const char *body, size_t blen, long long *ack_id)
{
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, blen, 0, &jerr) : NULL;
    json_t *a = json_object_get(root, "ackId");
    vg_err e = VG_ENOTFOUND;
    if (json_is_integer(a)) {
        *ack_id = (long long)json_integer_value(a);
        e = VG_OK;
    }
    json_decref(root);
    return e;
}

bool vg_http_hec_acked(const char *body, size_t blen, long long ack_id)
{
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, blen, 0, &jerr) : NULL;
    char k[32];
    snprintf(k, sizeof k, "%lld", ack_id);
    bool ok = json_is_true(json_object_get(json_object_get(root, "acks"), k));
    json_decref(root);
    return ok;
}

void vg_gzip_free(vg_gzip *z)
{
    if (z->c)
        libdeflate_free_compressor(z->c);
    z->c = NULL;
}

vg_err vg_http_gzip(vg_gzip *z, const char *p, size_t n, int level, vg_buf *out, vg_errbuf *eb)
{
    /* libdeflate: whole-buffer gzip at ~1.5x zlib's speed at level 1 with a
       better ratio; its level 9 also beats zlib's on log lines. */
    vg_buf_reset(out);
    if (z->c && z->level != level)
        vg_gzip_free(z);
    if (!z->c) {
        if (!(z->c = libdeflate_alloc_compressor(level)))
            return vg_errf(eb, VG_ENOMEM, "gzip: cannot allocate a level-%d compressor", level);
        z->level = level;
    }
    size_t bound = libdeflate_gzip_compress_bound(z->c, n);
    if (bound > out->max)
        return vg_errf(eb, VG_ELIMIT, "gzip: body larger than %zu bytes", out->max);
    /* Grow once to the bound, then compress in one call. */
    if (out->cap < bound) {
        char *q = realloc(out->p, bound);
        if (!q)
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        out->p = q;
        out->cap = bound;
    }
    out->n = libdeflate_gzip_compress(z->c, p, n, out->p, bound);
    if (!out->n)
        return vg_errf(eb, VG_EIO, "gzip: compression did not fit its bound");
    return VG_OK;
}
