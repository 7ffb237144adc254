#!/bin/sh
# Regenerates test/fixtures/fpu/golden.bin.gz: F/D instruction results (bits + fflags) as
# computed by qemu-riscv64 (SoftFloat-based, matches the spec) for a deterministic set of
# special, boundary and random operands.
#
# Needs a riscv64 cross compiler (Debian: gcc-riscv64-linux-gnu) and qemu-user. CI needs
# neither: the fixture is committed.
set -eu
cd "$(dirname "$0")/.."

CC=${CC:-riscv64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-riscv64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$CC" -static -O2 -march=rv64gc -o "$tmp/oracle" scripts/gen-fpu-fixtures.c
mkdir -p test/fixtures/fpu
node scripts/gen-fpu-fixtures.mjs "$QEMU" "$tmp/oracle" test/fixtures/fpu/golden.bin.gz
