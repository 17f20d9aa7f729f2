/*
 * Cryptocurrency miners: stratum URLs and public mining pools in command
 * lines, service logs, DNS/proxy logs and dropped configuration files.
 */

rule vg_miner_stratum_url
{
    meta:
        description = "Stratum mining protocol URL (stratum+tcp, stratum+ssl)"
        author = "Vigie"
        level = "high"
        mitre_att = "T1496"
        date = "2026-11-29"
    strings:
        $s = /stratum\+(tcp|ssl|tls):\/\/[0-9A-Za-z.\-]+(:[0-9]{1,5})?/ nocase
    condition:
        $s
}

rule vg_miner_pool_address
{
    meta:
        description = "Address of a public cryptocurrency mining pool"
        author = "Vigie"
        level = "high"
        mitre_att = "T1496"
        date = "2026-11-29"
    strings:
        $p1 = "pool.minexmr.com" nocase
        $p2 = "supportxmr.com" nocase
        $p3 = "moneroocean.stream" nocase
        $p4 = "pool.hashvault.pro" nocase
        $p5 = "xmr.nanopool.org" nocase
        $p6 = "xmr-eu1.nanopool.org" nocase
        $p7 = "c3pool.com" nocase
        $p8 = "xmrpool.eu" nocase
        $p9 = "minergate.com" nocase
        $p10 = "2miners.com" nocase
        $p11 = "f2pool.com" nocase
        $p12 = "herominers.com" nocase
        $p13 = "unmineable.com" nocase
        $p14 = "pool.supportxmr.com" nocase
    condition:
        any of them
}

rule vg_miner_xmrig_cmdline
{
    meta:
        description = "XMRig (or a clone) started with a pool, a wallet and a donation level"
        author = "Vigie"
        level = "high"
        mitre_att = "T1496"
        date = "2026-11-29"
    strings:
        $o = /(-o|--url[= ]) *([a-z+]+:\/\/)?[0-9A-Za-z.\-]+:[0-9]{2,5}/
        $u = /(-u|--user[= ]) *[0-9A-Za-z]{40,}/
        $d = "--donate-level" ascii
        $x = "xmrig" nocase
        $c = "--cpu-max-threads-hint" ascii
    condition:
        1 of ($x, $d, $c) and $o and ($u or $d or $c)
}
