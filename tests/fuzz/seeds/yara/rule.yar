rule vg_fuzz_shell : web
{
    meta:
        author = "Vigie"
        level = "high"
        scope = "event"
    strings:
        $a = "cmd=" nocase
        $b = /stratum\+tcp:\/\/[a-z.]+:\d+/
        $c = { 78 6D 72 69 67 }
    condition:
        ($a and #a > 0) or any of ($b, $c) or all of them
}

private rule vg_fuzz_priv
{
    strings:
        $x = "root" wide ascii
    condition:
        $x at 0 or 2 of them
}
%%tests
- rule: vg_fuzz_shell
  line: "GET /shell.php?cmd=id HTTP/1.1"
  match: true
- rule: vg_fuzz_priv
  line: root
  match: false
