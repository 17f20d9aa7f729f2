/*
 * Web shells (PHP, JSP, ASPX) in files written under a web root. scope =
 * "file": these run on the files that vg_scan_requests.yar asks for (and on
 * any other scanned file), not on log lines, where the same words would be
 * an attack attempt rather than an installed shell.
 */

rule vg_webshell_php_eval_decode
{
    meta:
        description = "PHP web shell: eval/assert of decoded or decompressed data"
        author = "Vigie"
        level = "critical"
        mitre_att = "T1505.003, T1027"
        scope = "file"
        date = "2026-11-29"
    strings:
        $php = "<?" ascii
        $e1 = /\b(eval|assert)\s*\(\s*(@\s*)?(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|strrev|hex2bin)\s*\(/ nocase
        $e2 = /\b(eval|assert)\s*\(\s*(@\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $e3 = /preg_replace\s*\(\s*["'].{1,40}\/e["']/ nocase
        $e4 = /create_function\s*\(\s*["']["']\s*,\s*\$_(GET|POST|REQUEST)/ nocase
    condition:
        $php and any of ($e*)
}

rule vg_webshell_php_command_exec
{
    meta:
        description = "PHP web shell: a request parameter passed to a command or code execution function"
        author = "Vigie"
        level = "critical"
        mitre_att = "T1505.003, T1059"
        scope = "file"
        date = "2026-11-29"
    strings:
        $php = "<?" ascii
        $x = /\b(system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|assert)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE)\s*\[/ nocase
        $bt = /`\s*\$_(GET|POST|REQUEST)\s*\[/ nocase
        $var = /\$_(GET|POST|REQUEST)\s*\[\s*["'][a-z0-9_]{1,16}["']\s*\]\s*\(\s*\$_(GET|POST|REQUEST)/ nocase
    condition:
        $php and any of ($x, $bt, $var)
}

rule vg_webshell_jsp_runtime_exec
{
    meta:
        description = "JSP web shell: Runtime.exec or ProcessBuilder fed by a request parameter"
        author = "Vigie"
        level = "critical"
        mitre_att = "T1505.003, T1059"
        scope = "file"
        date = "2026-11-29"
    strings:
        $jsp1 = "<%" ascii
        $jsp2 = "jsp:" ascii
        $r1 = /Runtime\.getRuntime\(\)\.exec\(\s*request\.getParameter\(/
        $r2 = /new\s+ProcessBuilder\s*\([^)]{0,80}request\.getParameter\(/
        $r3 = "Runtime.getRuntime().exec(" ascii
        $p = "request.getParameter(" ascii
        $o = "getInputStream()" ascii
    condition:
        ($jsp1 or $jsp2) and ($r1 or $r2 or ($r3 and $p and $o))
}

rule vg_webshell_aspx_process
{
    meta:
        description = "ASPX web shell: Process.Start or eval of request data"
        author = "Vigie"
        level = "critical"
        mitre_att = "T1505.003, T1059"
        scope = "file"
        date = "2026-11-29"
    strings:
        $asp = /<%@\s*Page\s+Language\s*=\s*["']?(C#|c#|Jscript|JScript|VB)/ nocase
        $p1 = "Process.Start(" nocase
        $p2 = "ProcessStartInfo(" nocase
        $req = /Request(\.Form|\.QueryString|\.Item)?\s*[\[(]\s*["'][^"']{1,32}["']\s*[\])]/ nocase
        $ev = /eval\s*\(\s*Request(\.Item)?\s*\[/ nocase
        $cmd = "cmd.exe" nocase
    condition:
        $asp and ($ev or (($p1 or $p2) and ($req or $cmd)))
}
