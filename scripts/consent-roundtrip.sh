#!/usr/bin/env bash
# The main job until `sitter demo` exists: a consent round trip on the sample portrait that ships
# with Sitter, in a throwaway data directory (set SITTER_HOME to keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
sitter=.venv/bin/sitter
export SITTER_HOME="${SITTER_HOME:-$(mktemp -d)}"
evidence="$SITTER_HOME/release-form.txt"
mkdir -p "$SITTER_HOME"
echo "NASA portrait, public domain: no release needed (stand-in evidence)" > "$evidence"

id=$($sitter consent add --kind artwork --name "Astronaut portrait" --grantor "Collections desk" \
      --creator NASA --rights public-domain --purpose exhibit --expires 2099-12-31 \
      --evidence "$evidence" --image studio/samples/astronaut.png --operator demo)
echo "added consent record $id in $SITTER_HOME"
$sitter consent list
$sitter consent show "$id"
$sitter consent receipt "$id" --out "$SITTER_HOME/receipt-$id.json"
$sitter consent revoke "$id" --reason "demo over" --operator demo
$sitter consent verify-ledger
