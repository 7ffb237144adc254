// The WebAssembly translator (issue 5): opt-in replacement for the interpreter's
// execute(), see runtime.ts for the loop and cache.ts / module.ts for the translation.
export { runJit } from './runtime.js';
export { Jit, jitOf, setCodeReclaim, type JitCounters } from './cache.js';
