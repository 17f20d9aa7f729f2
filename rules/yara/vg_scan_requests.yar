/*
 * Scan requests: private rules that match events naming a file worth a YARA
 * scan. `vigie_scan_file` names the event field holding the path; the file
 * is scanned in the background (size limit, per-minute rate: section `yara`
 * of the configuration) and a match of a file rule raises an alert that
 * carries the file's path, size and SHA-256 and the triggering event.
 *
 * Web roots: an auditd PATH record (not a parent directory, not a deletion)
 * of a file created or written under
 * /var/www, /srv/www or /usr/share/nginx/html (with an audit watch such as
 * `-w /var/www -p wa -k webroot`). Paths that auditd hex-encodes (spaces,
 * quotes) are not seen by these patterns, and relative names are skipped.
 */

private rule vg_scan_webroot_file_written
{
    meta:
        description = "auditd: a file under a web root was created or written; scan it"
        author = "Vigie"
        scope = "event"
        vigie_scan_file = "name"
    strings:
        $root = /name="\/(var\/www|srv\/www|usr\/share\/nginx\/html)\/[^"]+" /
        $skip = /nametype=(PARENT|DELETE|UNKNOWN)/
    condition:
        $root and not $skip
}

private rule vg_scan_exec_from_tmp
{
    meta:
        description = "auditd: a program run from /tmp, /var/tmp or /dev/shm; scan it"
        author = "Vigie"
        scope = "event"
        vigie_scan_file = "exe"
    strings:
        $exe = /exe="\/(tmp|var\/tmp|dev\/shm)\/[^"]+"/
    condition:
        $exe
}
