#!/usr/bin/env bash
# Regenerates the GNU binutils golden fixtures in test/fixtures/isa/.
# Needs Debian's binutils-riscv64-linux-gnu; CI only reads the results.
# Also checks that readelf accepts an ELF written by our writer (run
# `npx tsc -b` first so dist/ is current).
set -euo pipefail

cd "$(dirname "$0")/.."
FIX=test/fixtures/isa
P=riscv64-linux-gnu
MARCH=rv64gc_zba_zbb_zbs_zicsr_zifencei_zihintpause
BASE=0x80000000
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for tool in as ld objcopy objdump readelf nm; do
  command -v "$P-$tool" >/dev/null || { echo "missing $P-$tool (apt-get install binutils-riscv64-linux-gnu)" >&2; exit 1; }
done

# listing FILE: "address<TAB>encoding<TAB>instruction" for each disassembled line.
listing() {
  "$P-objdump" -d -M no-aliases,priv-spec=1.12 "$1" |
    awk -F'\t' '/^ *[0-9a-f]+:\t/ { a = $1; sub(/^ */, "", a); sub(/:$/, "", a); e = $2; gsub(/ /, "", e);
      t = $3; if (NF > 3) t = t "\t" $4; print a "\t" e "\t" t }'
}

for name in all rvc data; do
  "$P-as" -march="$MARCH" -mpriv-spec=1.12 -o "$TMP/$name.o" "$FIX/$name.S"
  "$P-ld" --no-relax -Ttext="$BASE" -e 0 -o "$TMP/$name.elf" "$TMP/$name.o"
  "$P-objcopy" -O binary --only-section=.text "$TMP/$name.elf" "$FIX/$name.bin"
  if [ "$name" != data ]; then listing "$TMP/$name.elf" >"$FIX/$name.objdump.txt"; fi
done

# Every 16-bit parcel (low bits != 3) in ascending order, disassembled as raw
# code at offset 2 * index; only the instruction text is kept, one per line.
node -e '
  const b = Buffer.alloc(49152 * 2); let k = 0;
  for (let p = 0; p < 65536; p++) if ((p & 3) !== 3) b.writeUInt16LE(p, 2 * k++);
  require("fs").writeFileSync(process.argv[1], b);' "$TMP/rvc-all.bin"
"$P-objdump" -D -b binary -m riscv:rv64 -M no-aliases,priv-spec=1.12 "$TMP/rvc-all.bin" |
  awk -F'\t' '/^ *[0-9a-f]+:\t/ { t = $3; if (NF > 3) t = t "\t" $4; print t }' | gzip -9n >"$FIX/rvc-all.objdump.txt.gz"

# Our ELF writer's output must satisfy readelf and nm.
if [ -f dist/src/isa/elf.js ]; then
  node --input-type=module -e '
    import { readFileSync, writeFileSync } from "node:fs";
    const { assemble } = await import(process.cwd() + "/dist/src/isa/asm.js");
    const { writeElf } = await import(process.cwd() + "/dist/src/isa/elf.js");
    const src = readFileSync(process.argv[1], "utf8") + "\n.data\nmsg: .string \"hi\"\n.bss\nbuf: .zero 64\n";
    writeFileSync(process.argv[2], writeElf(assemble(src)));' "$FIX/all.S" "$TMP/ours.elf"
  "$P-readelf" -a -W "$TMP/ours.elf" >"$TMP/readelf.txt" 2>"$TMP/readelf.err"
  if [ -s "$TMP/readelf.err" ]; then cat "$TMP/readelf.err" >&2; echo "readelf complained about our ELF" >&2; exit 1; fi
  "$P-nm" "$TMP/ours.elf" >"$TMP/nm.txt"
  grep -q ' T _start$' "$TMP/nm.txt" || { echo "nm does not see _start" >&2; exit 1; }
  grep -q ' D msg$' "$TMP/nm.txt" || { echo "nm does not see msg in .data" >&2; exit 1; }
  "$P-objdump" -d -M no-aliases "$TMP/ours.elf" >"$TMP/ours.lst"
  grep -q 'fence.tso' "$TMP/ours.lst" || { echo "objdump cannot disassemble our ELF" >&2; exit 1; }
  echo "readelf/nm/objdump accept our ELF"
else
  echo "dist/src/isa/elf.js missing: run npx tsc -b to also check the ELF writer" >&2
fi
chmod 644 "$FIX"/*.bin
ls -l "$FIX"
