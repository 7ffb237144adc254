// The applet list of a busybox binary, read from the binary itself: the riscv64 busybox
// cannot run on the host to print `busybox --list`. No Node API here.
//
// Busybox keeps its applet names as one sorted, NUL-separated string table
// (applet_names[] in applets.h), which always starts with the test applets "[" and "[[".

const REQUIRED = ['sh', 'mount', 'insmod', 'setsid', 'cttyhack', 'poweroff', 'devmem'];

export function busyboxApplets(binary: Uint8Array): string[] {
  const start = indexOf(binary, [0x5b, 0x00, 0x5b, 0x5b, 0x00]); // "[\0[[\0"
  if (start < 0) throw new Error('busybox: applet table not found');
  const names: string[] = [];
  let at = start;
  while (at < binary.length && binary[at] !== 0) {
    let end = at;
    while (end < binary.length && binary[end] !== 0) end++;
    const name = String.fromCharCode(...binary.subarray(at, end));
    if (!/^[\w.[\]-]+$/.test(name)) break;
    names.push(name);
    at = end + 1;
  }
  const missing = REQUIRED.filter((a) => !names.includes(a));
  if (missing.length) throw new Error(`busybox: applets missing: ${missing.join(', ')}`);
  return names;
}

function indexOf(haystack: Uint8Array, needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
