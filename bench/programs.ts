// CPU-bound guest programs for the interpreter benchmark. Each body is plain RV64GC code
// that leaves its result in a0; `epilogue` makes it exit through HTIF (rvisor bare metal)
// or through the Linux exit system call (qemu-riscv64 user mode), so both run the same
// instructions.

export interface BenchProgram {
  name: string;
  /** What the loop stresses. */
  about: string;
  body: string;
}

export const PROGRAMS: BenchProgram[] = [
  {
    name: 'integer',
    about: 'ALU mix: add, xor, shifts, multiply, compare-and-branch',
    body: `
    li   s0, 20000000
    li   a0, 1
    li   a1, 0x9e3779b97f4a7c15
1:  add  a2, a0, a1
    xor  a0, a2, s0
    slli a3, a0, 7
    srli a4, a0, 3
    or   a0, a3, a4
    mul  a5, a0, a1
    addw a0, a0, a5
    addi s0, s0, -1
    bnez s0, 1b
`,
  },
  {
    name: 'memcpy',
    about: '64 KiB block copy with ld/sd, 8 words per iteration',
    body: `
    li   s0, 4000
    la   s1, buffer
    li   t6, 65536
    add  s2, s1, t6
1:  mv   t0, s1
    mv   t1, s2
    add  t2, s1, t6
2:  ld   a0, 0(t0)
    ld   a1, 8(t0)
    ld   a2, 16(t0)
    ld   a3, 24(t0)
    sd   a0, 0(t1)
    sd   a1, 8(t1)
    sd   a2, 16(t1)
    sd   a3, 24(t1)
    ld   a0, 32(t0)
    ld   a1, 40(t0)
    ld   a2, 48(t0)
    ld   a3, 56(t0)
    sd   a0, 32(t1)
    sd   a1, 40(t1)
    sd   a2, 48(t1)
    sd   a3, 56(t1)
    addi t0, t0, 64
    addi t1, t1, 64
    bltu t0, t2, 2b
    addi s0, s0, -1
    bnez s0, 1b
    ld   a0, 0(s2)
`,
  },
  {
    name: 'fp',
    about: 'double-precision multiply-add and divide (sum of 1/i^2)',
    body: `
    li       s0, 5000000
    li       t0, 1
    fcvt.d.l fa0, t0
    fmv.d    fa1, fa0
    fcvt.d.l fa2, zero
1:  fmul.d   fa3, fa1, fa1
    fdiv.d   fa4, fa0, fa3
    fadd.d   fa2, fa2, fa4
    fadd.d   fa1, fa1, fa0
    addi     s0, s0, -1
    bnez     s0, 1b
    fcvt.l.d a0, fa2, rtz
`,
  },
  {
    name: 'decode',
    about: 'a byte-code interpreter: load opcode, dispatch through a compare chain',
    body: `
    li   s0, 300000
    la   s1, bytecode
    li   a0, 0
1:  mv   t0, s1
2:  lbu  t1, 0(t0)
    addi t0, t0, 1
    beqz t1, 9f
    li   t2, 1
    beq  t1, t2, 3f
    li   t2, 2
    beq  t1, t2, 4f
    li   t2, 3
    beq  t1, t2, 5f
    xori a0, a0, 0x55
    j    2b
3:  addi a0, a0, 3
    j    2b
4:  slli a0, a0, 1
    andi a0, a0, 0x7ff
    j    2b
5:  srli a0, a0, 1
    j    2b
9:  addi s0, s0, -1
    bnez s0, 1b
`,
  },
];

const DATA = `
    .data
    .balign 8
bytecode: .byte 1, 2, 3, 4, 1, 1, 2, 4, 3, 3, 2, 1, 4, 4, 1, 2, 3, 1, 2, 4, 0
    .balign 4096
buffer: .zero 131072
`;

const HTIF_EXIT = `
    slli a0, a0, 1
    ori  a0, a0, 1
    la   t0, tohost
    sd   a0, 0(t0)
99: j    99b
    .data
    .balign 8
tohost:   .dword 0
fromhost: .dword 0
`;

const LINUX_EXIT = `
    li   a7, 93
    ecall
`;

/** The program's assembly source for a bare-metal (HTIF) or Linux user-mode exit. */
export function source(p: BenchProgram, exit: 'htif' | 'linux'): string {
  // The exit code is only the low byte of the result, so every target agrees on it.
  // Bare metal starts in M-mode with the FPU off (mstatus.FS = 0); Linux enables it.
  const prologue = exit === 'htif' ? '    li t0, 0x6000\n    csrs mstatus, t0\n' : '';
  return `    .text\n    .globl _start\n_start:\n${prologue}${p.body}\n    andi a0, a0, 0xff\n${exit === 'htif' ? HTIF_EXIT : LINUX_EXIT}${DATA}`;
}
