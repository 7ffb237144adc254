/** Parses a memory size as QEMU's -m does: a plain number is MiB; K, M, G suffixes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`bad size '${text}': use e.g. 128M or 2G`);
  const unit = m[2].toUpperCase();
  const scale = unit === 'K' ? 1024 : unit === 'G' ? 1024 ** 3 : 1024 ** 2;
  const bytes = Math.floor(Number(m[1]) * scale);
  if (bytes < 4096 || bytes % 4096 !== 0) throw new Error(`bad size '${text}': must be a multiple of 4 KiB`);
  return bytes;
}
