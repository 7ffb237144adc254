// Gives the translator a way to have its aged-out code freed on this thread (see
// setCodeReclaim in jit/cache.ts): V8 releases a WebAssembly module's machine code only
// in a major collection, which an idle guest's thread rarely needs on its own.
//
// Node exposes a collection only under --expose-gc; the flag, set at run time, takes
// effect in contexts created afterwards, so the function comes from a fresh context (as
// Jest's --logHeapUsage gets it). Where that fails, the code stays until V8 collects.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setCodeReclaim } from '../../jit/index.js';

/** A full collection of this thread's heap, or undefined where Node gives none. */
function engineCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}

/** Installs the collector for the translation caches of this thread. */
export function reclaimTranslatedCode(): void {
  setCodeReclaim(engineCollector());
}
