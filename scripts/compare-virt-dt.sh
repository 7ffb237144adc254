#!/usr/bin/env bash
# Developer check, not run in CI: decompiles rvisor's golden virt device tree and diffs it
# against QEMU 7.2's, both the committed reference dump and a fresh one from the installed
# qemu-system-riscv64. Shows the raw diffs, then fails unless the only differences are the
# ones rvisor intends: devices it lacks, the ISA it implements, the PLIC source count, and
# per-boot values.
#
# Regenerate the golden first if virt-dt.ts changed:
#   npx tsc -b && RVISOR_UPDATE_GOLDEN=1 node --test dist/test/machine/virt-dt.test.js
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ours_dtb=$root/test/fixtures/dtb/virt-smp2-256M.dtb
reference=/work/shared/reference/qemu-7.2-virt-smp2-256M.dts
qemu=${QEMU_SYSTEM_RISCV64:-qemu-system-riscv64}

if ! command -v dtc >/dev/null; then
  echo "dtc missing; installing device-tree-compiler" >&2
  apt-get install -y device-tree-compiler >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The golden's warnings must be exactly QEMU's own (the cpu interrupt controllers carry
# no #address-cells in QEMU either); anything else is ours to fix.
dtc -I dtb -O dts -o "$tmp/ours.dts" "$ours_dtb" 2>"$tmp/ours.warn"

# Boot the same way the golden was made so /chosen is comparable: a 4 KiB kernel, a 64 KiB
# initrd (QEMU puts it at 0x88200000) and the golden's command line.
head -c 4096 /dev/zero >"$tmp/kernel"
head -c 65536 /dev/zero >"$tmp/initrd"
"$qemu" -M "virt,dumpdtb=$tmp/qemu.dtb" -smp 2 -m 256M -nographic \
  -kernel "$tmp/kernel" -initrd "$tmp/initrd" -append 'console=ttyS0 earlycon' >/dev/null 2>&1
dtc -I dtb -O dts -o "$tmp/qemu.dts" "$tmp/qemu.dtb" 2>"$tmp/qemu.warn"

echo "== dtc warnings for our dtb"
cat "$tmp/ours.warn"
echo "== diff: ours vs $reference"
diff -u "$tmp/ours.dts" "$reference" || true
echo "== diff: ours vs fresh $("$qemu" --version | head -1)"
diff -u "$tmp/ours.dts" "$tmp/qemu.dts" || true

# Strip what we leave out on purpose, and blank the values that are meant to differ.
expected() {
  awk '
    skip { if ($0 ~ "^" indent "};$") { skip = 0; drop_blank = 1 } ; next }
    drop_blank && /^$/ { drop_blank = 0; next }
    { drop_blank = 0 }
    match($0, /^\t+(pmu|fw-cfg@10100000|flash@20000000|platform-bus@4000000|pci@30000000) \{$/) {
      indent = substr($0, 1, index($0, $1) - 1); skip = 1; next
    }
    { print }
  ' "$1" | sed -E \
    -e '/^\t+(bootargs|linux,initrd-(start|end)) = /d' \
    -e 's/(rng-seed|riscv,isa) = .*/\1 = <per-boot or ours>;/'
}

status=0
for other in "$reference" "$tmp/qemu.dts"; do
  if ! diff -u <(expected "$tmp/ours.dts") <(expected "$other") >"$tmp/unexpected"; then
    echo "== UNEXPECTED differences from $other"
    cat "$tmp/unexpected"
    status=1
  fi
done
sed "s|$tmp/ours.dts|ours|" "$tmp/ours.warn" | sort >"$tmp/ours.w"
sed "s|$tmp/qemu.dts|ours|" "$tmp/qemu.warn" | sort >"$tmp/qemu.w"
if ! diff -u "$tmp/qemu.w" "$tmp/ours.w"; then
  echo "== dtc warns about our dtb differently from QEMU's"
  status=1
fi
# The bytes must also survive a dtc round trip (dtc re-parses and re-checks them).
dtc -I dtb -O dtb -o /dev/null "$ours_dtb" 2>/dev/null || { echo "== dtc cannot recompile our dtb"; status=1; }

if [ "$status" = 0 ]; then
  echo "== OK: only omitted nodes, riscv,isa and per-boot values differ"
fi
exit $status
