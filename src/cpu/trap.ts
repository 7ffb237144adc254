// Exception and interrupt codes, and the sentinel thrown to unwind the interpreter.

export const enum Cause {
  InsnMisaligned = 0,
  InsnAccessFault = 1,
  IllegalInsn = 2,
  Breakpoint = 3,
  LoadMisaligned = 4,
  LoadAccessFault = 5,
  StoreMisaligned = 6,
  StoreAccessFault = 7,
  EcallU = 8,
  EcallS = 9,
  EcallM = 11,
  InsnPageFault = 12,
  LoadPageFault = 13,
  StorePageFault = 15,
}

export const enum Irq {
  SSI = 1,
  MSI = 3,
  STI = 5,
  MTI = 7,
  SEI = 9,
  MEI = 11,
}

export const enum Mip {
  SSIP = 1 << 1,
  MSIP = 1 << 3,
  STIP = 1 << 5,
  MTIP = 1 << 7,
  SEIP = 1 << 9,
  MEIP = 1 << 11,
}

/** Thrown (never allocated per trap) after the hart recorded the pending exception. */
export const TRAP = Object.freeze({ trap: true });

export const enum Ms {
  SIE = 1 << 1,
  MIE = 1 << 3,
  SPIE = 1 << 5,
  MPIE = 1 << 7,
  SPP = 1 << 8,
  MPP_SHIFT = 11,
  MPP = 3 << 11,
  FS_SHIFT = 13,
  FS = 3 << 13,
  MPRV = 1 << 17,
  SUM = 1 << 18,
  MXR = 1 << 19,
  TVM = 1 << 20,
  TW = 1 << 21,
  TSR = 1 << 22,
}
