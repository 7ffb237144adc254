// Durations as the VM commands take and show them: 90s, 30m, 1h30m, 2d.

import { UsageError } from './errors.js';

const UNIT = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds in a duration like 30m or 1h30m; every number needs its unit, so that 30
 *  is never silently read as seconds where minutes were meant. */
export function parseDuration(text: string, option: string): number {
  if (!/^(\d+[smhd])+$/.test(text)) throw new UsageError(`${option} ${text}: expected a duration like 90s, 30m, 1h30m or 2d`);
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhd])/g)) seconds += Number(n) * UNIT[unit as keyof typeof UNIT];
  if (!Number.isSafeInteger(seconds)) throw new UsageError(`${option} ${text}: too long`);
  return seconds;
}

/** A duration in its largest whole unit (as `docker ps` rounds), e.g. 45s, 12m, 3h, 2d. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
