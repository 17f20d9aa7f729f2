/*
 * alert.c - ECS alert JSON; see alert.h.
 *
 * Every string that can come from a log line goes through vg_json_str, which
 * guarantees valid JSON and no raw control bytes whatever the input.
 */
#include "alert.h"
#include "hash.h"

#include <ctype.h>
#include <string.h>

const char *const vg_alert_ip_fields[] = {"src_ip", "source.ip", "c-ip", "rhost", "ip",
                                          "client_ip", "remote_addr", "addr", NULL};
const char *const vg_alert_user_fields[] = {"user", "user.name", "User", "username",
                                            "cs-username", "target_user", "acct", NULL};

void vg_alert_init(vg_alert *a)
{
    memset(a, 0, sizeof *a);
    vg_buf_init(&a->json, 4 << 20);
}

void vg_alert_free(vg_alert *a)
{
    vg_buf_free(&a->json);
}

int vg_alert_severity(int rank)
{
    /* Elastic's risk-score convention, so severities sort with other tools'. */
    static const int sev[] = {1, 21, 47, 73, 99};
    return rank >= 0 && rank <= 4 ? sev[rank] : 47;
}


void vg_alert_id(char out[33], const char *stream_id, uint64_t offset, const char *rule_id)
{
    uint64_t h1 = VG_FNV_BASIS, h2 = 0x84222325cbf29ce4ULL;
    const char sep = '\x1f';
    unsigned char off[8];
    for (int i = 0; i < 8; i++)
        off[i] = (unsigned char)(offset >> (8 * i));
    h1 = vg_fnv1a(h1, stream_id, strlen(stream_id));
    h1 = vg_fnv1a(h1, &sep, 1);
    h1 = vg_fnv1a(h1, off, 8);
    h1 = vg_fnv1a(h1, &sep, 1);
    h1 = vg_fnv1a(h1, rule_id, strlen(rule_id));
    h2 = vg_fnv1a(h2, rule_id, strlen(rule_id));
    h2 = vg_fnv1a(h2, &sep, 1);
    h2 = vg_fnv1a(h2, off, 8);
    h2 = vg_fnv1a(h2, &sep, 1);
    h2 = vg_fnv1a(h2, stream_id, strlen(stream_id));
    uint64_t a = vg_mix64(h1 ^ vg_mix64(h2)), b = vg_mix64(h2 + 0x9e3779b97f4a7c15ULL * h1);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = hx[(a >> (60 - 4 * i)) & 15];
        out[16 + i] = hx[(b >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

static void key(vg_buf *b, const char *k)
{
    vg_buf_putc(b, '"');
    vg_buf_puts(b, k);
    vg_buf_puts(b, "\":");
}

/* Record where the JSON token written by `code` lies (for reckeys.h). */
#define MARK(k, i, code)                                                                  \
    do {                                                                                  \
        size_t mark_at_ = b->n;                                                           \
        code;                                                                             \
        if (k) {                                                                          \
            (k)->off[i] = (uint32_t)mark_at_;                                             \
            (k)->len[i] = (uint32_t)(b->n - mark_at_);                                    \
        }                                                                                 \
    } while (0)

static void kstr(vg_buf *b, const char *k, const char *v)
{
    key(b, k);
    vg_json_cstr(b, v);
    vg_buf_putc(b, ',');
}

static void strlist(vg_buf *b, const vg_strlist *l)
{
    vg_buf_putc(b, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, l->v[i]);
    }
    vg_buf_putc(b, ']');
}

/* Drop a trailing comma before a closing brace. */
static void close_obj(vg_buf *b)
{
    if (b->n && b->p[b->n - 1] == ',')
        b->n--;
    vg_buf_putc(b, '}');
}

/* The rest of `log`: where the line came from (journald unit or file path,
   when st names it) and its offset, then the closing brace. Alerts and
   forwarded raw events write it alike; the path is a key of the index. */
static void log_origin(vg_buf *b, const vg_event *ev, const vg_stream *st, vg_reckeys *k)
{
    if (st && st->name) {
        if (st->id[0] == 'j') {
            key(b, "journald_unit");
            MARK(k, VG_RK_PATH, vg_json_cstr(b, st->name));
        } else {
            vg_buf_puts(b, "\"file\":{\"path\":");
            MARK(k, VG_RK_PATH, vg_json_cstr(b, st->name));
            vg_buf_putc(b, '}');
        }
        vg_buf_putc(b, ',');
    }
    vg_buf_puts(b, "\"offset\":");
    vg_buf_i64(b, (int64_t)ev->offset);
    vg_buf_putc(b, '}');
}

static const vg_str *first_field(const vg_event *ev, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        const vg_str *v = vg_event_get(ev, (vg_str){names[i], strlen(names[i])});
        if (v && v->n && v->n < 256)
            return v;
    }
    return NULL;
}

/* Looks like an IPv4/IPv6 address (so related.ip holds only addresses). */
static bool looks_ip(const vg_str *v)
{
    if (!v || !v->n || v->n > 45)
        return false;
    bool colon = false, digit = false;
    for (size_t i = 0; i < v->n; i++) {
        char c = v->p[i];
        if (c == ':')
            colon = true;
        else if (isdigit((unsigned char)c))
            digit = true;
        else if (!(c == '.' || isxdigit((unsigned char)c)))
            return false;
    }
    return digit || colon;
}

static void write_body(vg_buf *b, const vg_agent_info *info, const vg_event *ev,
                       const char *stateful, vg_reckeys *k);

/* The sender's address of an event a syslog listener received (its stream
   id starts with "l:"), or NULL. */
static const vg_str *listened(const vg_event *ev)
{
    if (!ev->stream || strncmp(ev->stream->id, "l:", 2))
        return NULL;
    const vg_str *a = vg_event_get(ev, VG_STR("log.source.address"));
    return a && a->n ? a : NULL;
}

bool vg_alert_build(vg_alert *a, const vg_agent_info *info, const vg_rule_meta *r,
                    const vg_event *ev, int64_t now_ns)
{
    return vg_alert_build_ex(a, info, r, ev, now_ns, NULL);
}

bool vg_alert_build_ex(vg_alert *a, const vg_agent_info *info, const vg_rule_meta *r,
                       const vg_event *ev, int64_t now_ns, const vg_alert_extra *x)
{
    vg_buf *b = &a->json;
    vg_buf_reset(b);
    a->rule = r;
    a->ev = ev;
    a->created_ns = now_ns;
    a->summary = x ? x->summary : NULL;
    const char *sid = ev->stream ? ev->stream->id : "none";
    if (x && x->id_key) /* a stateful alert: its window's identity */
        vg_alert_id(a->id, x->id_key, 0, r->id ? r->id : "");
    else
        vg_alert_id(a->id, sid, ev->offset, r->id ? r->id : "");

    vg_reckeys *rk = &a->keys;
    vg_reckeys_clear(rk);
    rk->ts_ns = ev->ts_ns ? ev->ts_ns : now_ns;
    rk->severity = vg_alert_severity(r->level_rank);
    vg_buf_puts(b, "{\"@timestamp\":");
    vg_json_time(b, ev->ts_ns ? ev->ts_ns : now_ns);
    vg_buf_puts(b, ",\"event\":{\"id\":");
    MARK(rk, VG_RK_ID, vg_buf_putc(b, '"'); vg_buf_puts(b, a->id); vg_buf_putc(b, '"'));
    vg_buf_puts(b, ",\"kind\":");
    MARK(rk, VG_RK_KIND, vg_buf_puts(b, "\"alert\""));
    vg_buf_puts(b, ",\"created\":");
    vg_json_time(b, now_ns);
    vg_buf_puts(b, ",\"severity\":");
    vg_buf_i64(b, vg_alert_severity(r->level_rank));
    vg_buf_puts(b, ",\"module\":\"vigie\"");
    if (ev->stream && ev->stream->input) {
        vg_buf_puts(b, ",\"dataset\":");
        vg_json_cstr(b, ev->stream->input);
    }
    vg_buf_puts(b, "},\"rule\":{");
    key(b, "id");
    MARK(rk, VG_RK_RULE_ID, vg_json_cstr(b, r->id));
    vg_buf_putc(b, ',');
    key(b, "name");
    MARK(rk, VG_RK_RULE_NAME, vg_json_cstr(b, r->title));
    vg_buf_putc(b, ',');
    if (r->description)
        kstr(b, "description", r->description);
    key(b, "level");
    MARK(rk, VG_RK_LEVEL, vg_json_cstr(b, r->level));
    vg_buf_putc(b, ',');
    if (r->status)
        kstr(b, "status", r->status);
    if (r->author)
        kstr(b, "author", r->author);
    kstr(b, "ruleset", r->ruleset ? r->ruleset : "sigma");
    if (r->ruleset_version)
        kstr(b, "version", r->ruleset_version);
    if (r->references.n) {
        key(b, "reference");
        vg_json_cstr(b, r->references.v[0]);
        vg_buf_putc(b, ',');
    }
    key(b, "tags");
    strlist(b, &r->tags);
    vg_buf_putc(b, '}');

    /* threat.technique.id from attack.tNNNN[.NNN] tags, tactics from the others. */
    size_t nt = 0, nta = 0;
    for (size_t i = 0; i < r->tags.n; i++) {
        const char *t = r->tags.v[i];
        if (strncmp(t, "attack.", 7))
            continue;
        if ((t[7] == 't' || t[7] == 'T') && isdigit((unsigned char)t[8]))
            nt++;
        else if (!(t[7] == 'g' && isdigit((unsigned char)t[8])) &&
                 !(t[7] == 's' && isdigit((unsigned char)t[8])))
            nta++;
    }
    if (nt || nta) {
        vg_buf_puts(b, ",\"threat\":{\"framework\":\"MITRE ATT&CK\"");
        if (nt) {
            vg_buf_puts(b, ",\"technique\":{\"id\":[");
            size_t k = 0;
            for (size_t i = 0; i < r->tags.n; i++) {
                const char *t = r->tags.v[i];
                if (strncmp(t, "attack.", 7) || !(t[7] == 't' || t[7] == 'T') ||
                    !isdigit((unsigned char)t[8]))
                    continue;
                char id[32];
                size_t n = 0;
                for (const char *p = t + 7; *p && n < sizeof id - 1; p++)
                    id[n++] = (char)toupper((unsigned char)*p);
                id[n] = '\0';
                if (k++)
                    vg_buf_putc(b, ',');
                vg_json_cstr(b, id);
            }
            vg_buf_puts(b, "]}");
        }
        if (nta) {
            vg_buf_puts(b, ",\"tactic\":{\"name\":[");
            size_t k = 0;
            for (size_t i = 0; i < r->tags.n; i++) {
                const char *t = r->tags.v[i];
                if (strncmp(t, "attack.", 7) || isdigit((unsigned char)t[8]) ||
                    (strchr("tTgs", t[7]) && isdigit((unsigned char)t[8])))
                    continue;
                if (k++)
                    vg_buf_putc(b, ',');
                vg_json_cstr(b, t + 7);
            }
            vg_buf_puts(b, "]}");
        }
        vg_buf_putc(b, '}');
    }

    write_body(b, info, ev, x ? x->vigie_json : NULL, rk);
    return !b->overflow;
}

/* host, agent, log, source, user, related, message and the vigie object:
   what alerts and forwarded events share. Ends the top-level object. */
static void write_body(vg_buf *b, const vg_agent_info *info, const vg_event *ev,
                       const char *stateful, vg_reckeys *k)
{
    /* An event a syslog listener received is about the sender: host.* is
       the sender (its HOSTNAME, else its address), the agent is observer.*. */
    const vg_str *from = listened(ev);
    vg_buf_puts(b, ",\"host\":{\"name\":");
    MARK(k, VG_RK_HOST,
         if (from && ev->hostname.n) vg_json_str(b, ev->hostname.p, ev->hostname.n);
         else if (from) vg_json_str(b, from->p, from->n);
         else vg_json_cstr(b, info->hostname));
    if (from) {
        vg_buf_puts(b, "},\"observer\":{\"hostname\":");
        vg_json_cstr(b, info->hostname);
        vg_buf_puts(b, ",\"type\":\"log-agent\",\"vendor\":\"vigie\"");
    }
    vg_buf_puts(b, "},\"agent\":{\"type\":\"vigie\",\"id\":");
    MARK(k, VG_RK_AGENT, vg_json_cstr(b, info->agent_id));
    vg_buf_puts(b, ",\"version\":");
    vg_json_cstr(b, info->version);
    vg_buf_putc(b, '}');

    vg_buf_puts(b, ",\"log\":{");
    if (from) {
        vg_buf_puts(b, "\"source\":{\"address\":");
        MARK(k, VG_RK_PATH, vg_json_str(b, from->p, from->n));
        vg_buf_puts(b, "},");
    }
    log_origin(b, ev, from ? NULL : ev->stream, k);

    const vg_str *ip = first_field(ev, vg_alert_ip_fields);
    const vg_str *user = first_field(ev, vg_alert_user_fields);
    if (ip && looks_ip(ip)) {
        vg_buf_puts(b, ",\"source\":{\"ip\":");
        MARK(k, VG_RK_SOURCE_IP, vg_json_str(b, ip->p, ip->n));
        vg_buf_putc(b, '}');
    }
    if (user) {
        vg_buf_puts(b, ",\"user\":{\"name\":");
        MARK(k, VG_RK_USER, vg_json_str(b, user->p, user->n));
        vg_buf_putc(b, '}');
    }
    if ((ip && looks_ip(ip)) || user) {
        vg_buf_puts(b, ",\"related\":{");
        if (ip && looks_ip(ip)) {
            vg_buf_puts(b, "\"ip\":[");
            vg_json_str(b, ip->p, ip->n);
            vg_buf_puts(b, "],");
        }
        if (user) {
            vg_buf_puts(b, "\"user\":[");
            vg_json_str(b, user->p, user->n);
            vg_buf_puts(b, "],");
        }
        close_obj(b);
    }

    size_t mlen = ev->raw.n;
    bool cut = false;
    if (info->max_message && mlen > info->max_message) {
        mlen = info->max_message;
        cut = true;
    }
    vg_buf_puts(b, ",\"message\":");
    MARK(k, VG_RK_MESSAGE, vg_json_str(b, ev->raw.p ? ev->raw.p : "", mlen));

    vg_buf_puts(b, ",\"vigie\":{\"fields\":{");
    for (unsigned i = 0; i < ev->nfields; i++) {
        const vg_field *f = &ev->fields[i];
        if (vg_str_eqc(f->name, "message"))
            continue; /* already the top-level message */
        vg_json_str(b, f->name.p, f->name.n);
        vg_buf_putc(b, ':');
        size_t vn = f->value.n;
        if (info->max_message && vn > info->max_message)
            vn = info->max_message;
        vg_json_str(b, f->value.p, vn);
        vg_buf_putc(b, ',');
    }
    close_obj(b);
    if (ev->stream) {
        vg_buf_puts(b, ",\"stream\":");
        vg_json_cstr(b, ev->stream->id);
    }
    if (ev->flags & VG_EV_TRUNCATED)
        vg_buf_puts(b, ",\"truncated\":true");
    if (cut)
        vg_buf_puts(b, ",\"message_cut\":true");
    if (ev->flags & VG_EV_PARSE_FAILED)
        vg_buf_puts(b, ",\"parse_failed\":true");
    if (ev->vigie_extra && *ev->vigie_extra) { /* built by a detector with the JSON writer */
        vg_buf_putc(b, ',');
        vg_buf_puts(b, ev->vigie_extra);
    }
    if (stateful && *stateful) { /* vigie.count, group, window, samples (stateful.c) */
        vg_buf_putc(b, ',');
        vg_buf_puts(b, stateful);
    }
    vg_buf_puts(b, "}}");
}

bool vg_event_record_build(vg_buf *b, const vg_agent_info *info, const vg_event *ev,
                           int64_t now_ns, vg_reckeys *k)
{
    /* Compact on purpose: raw events are forwarded in volume and compressed;
       a 128-bit hash per line would be ~16 incompressible bytes. The id is
       the stream's hash (the same on every line of a stream) and the line
       number (or the offset): deterministic, unique per line, cheap to
       compress. */
    char sid[33];
    vg_buf_reset(b);
    vg_alert_id(sid, ev->stream ? ev->stream->id : "none", 0, "");
    if (k) {
        vg_reckeys_clear(k);
        k->ts_ns = ev->ts_ns ? ev->ts_ns : now_ns;
    }
    vg_buf_puts(b, "{\"@timestamp\":");
    vg_json_time(b, ev->ts_ns ? ev->ts_ns : now_ns);
    vg_buf_puts(b, ",\"event\":{\"id\":");
    /* The line number when the collector counts lines (files): it grows by
       one per line, so it costs about a byte after compression where the
       byte offset costs four. Journald's offset is its sequence number. */
    if (ev->line)
        MARK(k, VG_RK_ID, vg_buf_printf(b, "\"%.12s:%llu\"", sid, (unsigned long long)ev->line));
    else
        MARK(k, VG_RK_ID, vg_buf_printf(b, "\"%.12s-%llu\"", sid, (unsigned long long)ev->offset));
    vg_buf_puts(b, ",\"kind\":");
    MARK(k, VG_RK_KIND, vg_buf_puts(b, "\"event\""));
    vg_buf_puts(b, "},\"host\":{\"name\":");
    MARK(k, VG_RK_HOST, vg_json_cstr(b, info->hostname));
    vg_buf_puts(b, "},\"agent\":{\"id\":");
    MARK(k, VG_RK_AGENT, vg_json_cstr(b, info->agent_id));
    vg_buf_puts(b, "},\"log\":{");
    log_origin(b, ev, ev->stream, k);
    size_t mlen = ev->raw.n;
    if (info->max_message && mlen > info->max_message)
        mlen = info->max_message;
    vg_buf_puts(b, ",\"message\":");
    MARK(k, VG_RK_MESSAGE, vg_json_str(b, ev->raw.p ? ev->raw.p : "", mlen));
    if (mlen < ev->raw.n)
        vg_buf_puts(b, ",\"vigie\":{\"message_cut\":true}");
    vg_buf_putc(b, '}');
    return !b->overflow;
}
