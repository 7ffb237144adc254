// rvisor's own SBI firmware: see sbi.ts.
export * from './sbi.js';
