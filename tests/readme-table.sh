#!/usr/bin/env bash
# Regenerates the README's compatibility table from `husk syscalls
# --markdown` (--check: fail if the README is out of date instead).
set -euo pipefail
cd "$(dirname "$0")/.."
husk=${HUSK_BIN:-target/release/husk}
table=$("$husk" syscalls --markdown)
python3 - "$1" "$table" <<'PY'
import sys
mode, table = sys.argv[1], sys.argv[2]
readme = open("README.md").read()
start, end = "<!-- syscalls:begin -->\n", "<!-- syscalls:end -->"
i, j = readme.index(start) + len(start), readme.index(end)
new = readme[:i] + table.rstrip("\n") + "\n" + readme[j:]
if mode == "--check":
    if new != readme:
        sys.exit("README.md: compatibility table is stale; run tests/readme-table.sh --write")
else:
    open("README.md", "w").write(new)
PY
