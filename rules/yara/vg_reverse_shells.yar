/*
 * Reverse-shell one-liners, in clear and base64-encoded (YARA's base64
 * modifier finds the string inside any base64 text, whatever its alignment).
 * Written for Vigie: they run on log lines (auditd EXECVE/PROCTITLE, shell
 * history shipped to syslog, web logs with injected commands) and on files.
 */

rule vg_reverse_shell_bash_dev_tcp
{
    meta:
        description = "Bash reverse shell through /dev/tcp or /dev/udp"
        author = "Vigie"
        level = "high"
        mitre_att = "T1059.004, T1071"
        date = "2026-11-29"
    strings:
        $i1 = /bash -i *[>&]+ *\/dev\/(tcp|udp)\/[0-9A-Za-z.\-]+\/[0-9]{1,5}/
        $i2 = /(sh|bash) +-c +["']?[a-z]*sh -i *>& *\/dev\/tcp\//
        $i3 = /exec [0-9]+<> *\/dev\/tcp\/[0-9A-Za-z.\-]+\/[0-9]{1,5}/
    condition:
        any of them
}

rule vg_reverse_shell_base64
{
    meta:
        description = "Base64-encoded reverse shell (bash /dev/tcp, nc -e, python or perl socket)"
        author = "Vigie"
        level = "critical"
        mitre_att = "T1059.004, T1027, T1140"
        date = "2026-11-29"
    strings:
        $b1 = "bash -i >& /dev/tcp/" base64
        $b2 = "sh -i >& /dev/tcp/" base64
        $b3 = "0>&1" base64
        $b4 = "/dev/tcp/" base64
        $b5 = "nc -e /bin/" base64
        $b6 = "pty.spawn(" base64
        $b7 = "socket.SOCK_STREAM" base64
        $b8 = "use Socket;" base64
        $b9 = "mkfifo /tmp/" base64
    condition:
        any of ($b1, $b2, $b4, $b5, $b6, $b8, $b9) or ($b3 and $b7)
}

rule vg_reverse_shell_netcat
{
    meta:
        description = "Netcat or socat handing a shell to a remote host"
        author = "Vigie"
        level = "high"
        mitre_att = "T1059.004, T1095"
        date = "2026-11-29"
    strings:
        $nc1 = /\b(nc|ncat|netcat)(\.traditional|\.openbsd)? [^|;]{0,80}-e \/bin\/(ba|da|z)?sh\b/
        $nc2 = /\b(nc|ncat|netcat) [^|;]{0,80}-[a-z]*e \/bin\/(ba|da|z)?sh\b/
        $fifo = /mkfifo +\/tmp\/[^ ;|]+ *; *(cat|tail -f) +\/tmp\/[^ ;|]+ *\| *\/bin\/(ba)?sh -i/
        $socat = /socat +(tcp|TCP)(4|6)?:[0-9A-Za-z.\-]+:[0-9]{1,5} +(exec|EXEC|system|SYSTEM):['"]?\/bin\/(ba)?sh/
    condition:
        any of them
}

rule vg_reverse_shell_python_pty
{
    meta:
        description = "Python reverse shell: a socket connect followed by dup2 and a pty or shell"
        author = "Vigie"
        level = "high"
        mitre_att = "T1059.006"
        date = "2026-11-29"
    strings:
        $sock = "socket.socket(" ascii
        $conn = ".connect((" ascii
        $dup = "os.dup2(" ascii
        $pty = "pty.spawn(" ascii
        $sh = /subprocess\.call\(\[["']\/bin\/(ba)?sh["']/
    condition:
        $sock and $conn and ($dup or $pty or $sh)
}

rule vg_reverse_shell_perl_socket
{
    meta:
        description = "Perl reverse shell: a socket connected to a remote host and a shell exec"
        author = "Vigie"
        level = "high"
        mitre_att = "T1059"
        date = "2026-11-29"
    strings:
        $use = "use Socket" ascii
        $s1 = "socket(S,PF_INET,SOCK_STREAM" ascii nocase
        $s2 = "IO::Socket::INET" ascii
        $c = /connect\(S, *sockaddr_in\(/ nocase
        $e = /exec\(["']\/bin\/(ba)?sh -i["']\)/
    condition:
        ($use or $s2) and ($s1 or $c or $s2) and $e
}
