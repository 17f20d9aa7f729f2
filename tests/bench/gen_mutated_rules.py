#!/usr/bin/env python3
"""gen_mutated_rules.py SRC OUT [COUNT] [SEED] - a large, distinct Sigma rule set for the benchmark.

Replicates the Sigma rules found under SRC (sorted by path) into OUT until COUNT rules are written
(default 2500; copy 0 is the whole set, copy 1 again, ... the last copy is partial). Each copy k has
one token T_k (7 characters, "_" + 6 of [a-z0-9], drawn from random.Random(SEED)), and in each copy:

  id          a fresh uuid4 (from the same seeded generator: the output is deterministic)
  title       "<title> [copy k]"
  detection   every string value of every detection item is mutated, so that no literal of a copy
              is a literal of another copy or of the original (the prefilter's automaton grows with
              the number of rules, as it would with that many hand-written rules):
                plain / |contains / |startswith / |endswith / |all / |base64* / |windash / |expand:
                  T_k is inserted after the last non-wildcard character ("*foo*" -> "*foo_abc123*",
                  "/tmp/" -> "/tmp/_abc123"), i.e. before trailing unescaped * and ? wildcards;
                |re: the regex R becomes "(?:R)T_k" (still a valid regex if R was one; T_k is a
                  plain literal);
                left alone: |cidr values (an address range cannot take a suffix), values of
                  |exists / |fieldref / |lt |lte |gt |gte, and non-strings (numbers, booleans,
                  null).
              Field names, modifiers, condition and timeframe are kept.
  the rest    kept (logsource, level, tags, ...).

OUT is replaced as a whole (written to OUT.tmp, then renamed). Needs PyYAML (Debian: python3-yaml).
Prints one summary line: rules written, copies, values mutated / left alone.
"""
import os
import random
import shutil
import sys
import uuid

import yaml

UNMUTABLE = {"cidr", "exists", "fieldref", "lt", "lte", "gt", "gte"}
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def escaped(s, j):
    """Is s[j] escaped, i.e. preceded by an odd number of backslashes?"""
    n = 0
    while j - n - 1 >= 0 and s[j - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def insert_token(s, tok):
    """Insert tok before the trailing unescaped wildcards of a Sigma string value."""
    i = len(s)
    while i > 0 and s[i - 1] in "*?" and not escaped(s, i - 1):
        i -= 1
    return s[:i] + tok + s[i:]


class Mutator:
    def __init__(self):
        self.mutated = 0
        self.kept = 0

    def value(self, v, mods, tok):
        if isinstance(v, list):
            return [self.value(x, mods, tok) for x in v]
        if not isinstance(v, str) or UNMUTABLE & set(mods):
            self.kept += 1
            return v
        self.mutated += 1
        if "re" in mods:
            return "(?:" + v + ")" + tok
        return insert_token(v, tok)

    def mapping(self, m, tok):
        out = {}
        for key, v in m.items():
            mods = str(key).split("|")[1:]
            out[key] = self.value(v, mods, tok)
        return out

    def search(self, s, tok):
        """A search identifier's body: a map of items, a list of maps, or a keyword list."""
        if isinstance(s, dict):
            return self.mapping(s, tok)
        if isinstance(s, list):
            return [self.mapping(x, tok) if isinstance(x, dict) else self.value(x, [], tok) for x in s]
        return self.value(s, [], tok)

    def detection(self, det, tok):
        out = {}
        for name, body in det.items():
            if name in ("condition", "timeframe"):
                out[name] = body
            else:
                out[name] = self.search(body, tok)
        return out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: gen_mutated_rules.py SRC OUT [COUNT] [SEED]")
    src, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2500
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261129
    rng = random.Random(seed)

    files = []
    for d, _, names in os.walk(src):
        files += [os.path.join(d, n) for n in names if n.endswith((".yml", ".yaml"))]
    files.sort()
    rules = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        if isinstance(doc, dict) and isinstance(doc.get("detection"), dict):
            rules.append((os.path.relpath(f, src), doc))
    if not rules:
        sys.exit(f"no Sigma rules under {src}")

    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    mut = Mutator()
    written = 0
    copy = 0
    while written < count:
        tok = "_" + "".join(rng.choice(TOKEN_CHARS) for _ in range(6))
        for rel, doc in rules:
            if written == count:
                break
            d = dict(doc)
            d["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            d["title"] = f"{doc.get('title', rel)} [copy {copy}]"
            d["detection"] = mut.detection(doc["detection"], tok)
            path = os.path.join(tmp, f"c{copy:02d}", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                yaml.safe_dump(d, fh, sort_keys=False, allow_unicode=True, width=4096)
            written += 1
        copy += 1
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(f"{written} rules from {len(rules)} x {copy} copies into {out}: "
          f"{mut.mutated} values mutated, {mut.kept} left alone (cidr, numbers, ...)")


if __name__ == "__main__":
    main()
