#!/bin/bash
# Manual pages: each one renders without a single groff warning (-ww, any
# warning fails), `man -l` shows it, vigie.yml(5) is the one the binary
# generates from its option tables, and every option of those tables is in it.
. "$(dirname "$0")/lib.sh"

command -v groff >/dev/null || skip "groff is not installed (apt-get install groff-base)"
BUILD_DIR=${VG_BUILD_ROOT:-$(dirname "$VIGIE")}

"$VIGIE" config reference --format man >"$T/vigie.yml.5"
check "config reference --format man exits 0" test -s "$T/vigie.yml.5"
if [ -f "$BUILD_DIR/man/vigie.yml.5" ]; then
    check "the built vigie.yml.5 is what the binary generates" cmp -s "$BUILD_DIR/man/vigie.yml.5" "$T/vigie.yml.5"
fi

for page in "$ROOT/man/vigie.8" "$ROOT/man/vigie-rules.7" "$T/vigie.yml.5"; do
    name=$(basename "$page")
    groff -man -Tutf8 -ww -z "$page" 2>"$T/$name.warn"
    check "$name: groff -ww, no warning" test ! -s "$T/$name.warn"
    [ -s "$T/$name.warn" ] && sed 's/^/    /' "$T/$name.warn" | head -10
    if command -v man >/dev/null; then
        MANWIDTH=80 man -l "$page" >"$T/$name.txt" 2>"$T/$name.err"
        check "$name: man -l renders it" test -s "$T/$name.txt"
        check "$name: man -l says nothing on stderr" test ! -s "$T/$name.err"
    fi
    check "$name: has NAME and SEE ALSO" grep -q '^\.SH SEE ALSO' "$page"
done

# Every option of the Markdown reference (same tables) is a tag in the page.
"$VIGIE" config reference | sed -n 's/^| `\([^`]*\)`.*/\1/p' | sort -u >"$T/keys"
missing=
while read -r k; do
    grep -qxF ".B \"$(printf '%s' "$k" | sed 's/-/\\-/g')\"" "$T/vigie.yml.5" || missing="$missing $k"
done <"$T/keys"
check "every option ($(wc -l <"$T/keys")) is in vigie.yml(5)${missing:+, missing:$missing}" test -z "$missing"

# vigie(8) has an entry (.B COMMAND under COMMANDS) for every command of `vigie --help`.
"$VIGIE" --help | sed -n 's/^  \([a-z]\+\( [a-z]\+\)\?\) .*/\1/p' | sed 's/ \[.*//' >"$T/cmds"
missing=
while read -r c; do
    grep -qxF ".B $c" "$ROOT/man/vigie.8" || missing="$missing '$c'"
done <"$T/cmds"
check "vigie(8) documents every command of --help${missing:+, missing:$missing}" test -z "$missing"
finish
