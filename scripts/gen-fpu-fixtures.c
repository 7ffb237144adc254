/* Golden-vector oracle for the F/D tests: runs each record's instruction on a real (emulated)
 * RISC-V FPU. Built static for riscv64 and run under qemu-riscv64 by gen-fpu-fixtures.sh.
 *
 *   gen-fpu-fixtures --list         print the op names, one per line, in op-number order
 *   gen-fpu-fixtures < in > out     in:  32-byte records  op u8, rm u8, pad[6], a, b, c (u64 LE)
 *                                   out: 40-byte records  op, rm, fflags, pad[5], a, b, c, result
 * Float operands are loaded with fmv.d.x (so singles may be deliberately mis-boxed) and float
 * results read back with fmv.x.d (so NaN-boxing is checked). rm is applied through frm and the
 * instruction's DYN rounding mode. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LD1 "fmv.d.x ft0,%1\n\t"
#define LD2 LD1 "fmv.d.x ft1,%2\n\t"
#define LD3 LD2 "fmv.d.x ft3,%3\n\t"
#define ST "\n\tfmv.x.d %0,ft2"
#define IN1 "r"(a)
#define IN3 "r"(a), "r"(b), "r"(c)

/* float,float -> float */
#define FF_F(ins, sfx) __asm__ volatile(LD2 ins " ft2,ft0,ft1" sfx ST : "=r"(r) : IN3 : "ft0", "ft1", "ft2")
/* float -> float */
#define F_F(ins, sfx) __asm__ volatile(LD1 ins " ft2,ft0" sfx ST : "=r"(r) : IN1 : "ft0", "ft2")
/* float,float,float -> float */
#define FFF_F(ins) __asm__ volatile(LD3 ins " ft2,ft0,ft1,ft3,dyn" ST : "=r"(r) : IN3 : "ft0", "ft1", "ft2", "ft3")
/* float,float -> int */
#define FF_X(ins) __asm__ volatile(LD2 ins " %0,ft0,ft1" : "=r"(r) : IN3 : "ft0", "ft1")
/* float -> int */
#define F_X(ins, sfx) __asm__ volatile(LD1 ins " %0,ft0" sfx : "=r"(r) : IN1 : "ft0")
/* int -> float */
#define X_F(ins, sfx) __asm__ volatile(ins " ft2,%1" sfx ST : "=r"(r) : IN1 : "ft2")

/* fcvt.d.w/wu (and fcvt.d.s) are exact: the assembler takes no rounding mode for them. */
#define RM_W_s ",dyn"
#define RM_W_d ""

#define FMT_OPS(X, s)                                                   \
  X(fadd_##s, "fadd." #s, FF_F("fadd." #s, ",dyn"))                     \
  X(fsub_##s, "fsub." #s, FF_F("fsub." #s, ",dyn"))                     \
  X(fmul_##s, "fmul." #s, FF_F("fmul." #s, ",dyn"))                     \
  X(fdiv_##s, "fdiv." #s, FF_F("fdiv." #s, ",dyn"))                     \
  X(fsqrt_##s, "fsqrt." #s, F_F("fsqrt." #s, ",dyn"))                   \
  X(fmin_##s, "fmin." #s, FF_F("fmin." #s, ""))                         \
  X(fmax_##s, "fmax." #s, FF_F("fmax." #s, ""))                         \
  X(fsgnj_##s, "fsgnj." #s, FF_F("fsgnj." #s, ""))                      \
  X(fsgnjn_##s, "fsgnjn." #s, FF_F("fsgnjn." #s, ""))                   \
  X(fsgnjx_##s, "fsgnjx." #s, FF_F("fsgnjx." #s, ""))                   \
  X(feq_##s, "feq." #s, FF_X("feq." #s))                                \
  X(flt_##s, "flt." #s, FF_X("flt." #s))                                \
  X(fle_##s, "fle." #s, FF_X("fle." #s))                                \
  X(fclass_##s, "fclass." #s, F_X("fclass." #s, ""))                    \
  X(fmadd_##s, "fmadd." #s, FFF_F("fmadd." #s))                         \
  X(fmsub_##s, "fmsub." #s, FFF_F("fmsub." #s))                         \
  X(fnmsub_##s, "fnmsub." #s, FFF_F("fnmsub." #s))                      \
  X(fnmadd_##s, "fnmadd." #s, FFF_F("fnmadd." #s))                      \
  X(fcvt_w_##s, "fcvt.w." #s, F_X("fcvt.w." #s, ",dyn"))                \
  X(fcvt_wu_##s, "fcvt.wu." #s, F_X("fcvt.wu." #s, ",dyn"))             \
  X(fcvt_l_##s, "fcvt.l." #s, F_X("fcvt.l." #s, ",dyn"))                \
  X(fcvt_lu_##s, "fcvt.lu." #s, F_X("fcvt.lu." #s, ",dyn"))             \
  X(fcvt_##s##_w, "fcvt." #s ".w", X_F("fcvt." #s ".w", RM_W_##s))        \
  X(fcvt_##s##_wu, "fcvt." #s ".wu", X_F("fcvt." #s ".wu", RM_W_##s))     \
  X(fcvt_##s##_l, "fcvt." #s ".l", X_F("fcvt." #s ".l", ",dyn"))        \
  X(fcvt_##s##_lu, "fcvt." #s ".lu", X_F("fcvt." #s ".lu", ",dyn"))

#define OPS(X)                                            \
  FMT_OPS(X, s)                                           \
  FMT_OPS(X, d)                                           \
  X(fcvt_s_d, "fcvt.s.d", F_F("fcvt.s.d", ",dyn"))        \
  X(fcvt_d_s, "fcvt.d.s", F_F("fcvt.d.s", ""))        \
  X(fmv_x_w, "fmv.x.w", F_X("fmv.x.w", ""))               \
  X(fmv_w_x, "fmv.w.x", X_F("fmv.w.x", ""))               \
  X(fmv_x_d, "fmv.x.d", F_X("fmv.x.d", ""))               \
  X(fmv_d_x, "fmv.d.x", X_F("fmv.d.x", ""))

enum {
#define ID(id, name, body) OP_##id,
  OPS(ID)
#undef ID
  OP_COUNT
};

static const char *const names[] = {
#define NAME(id, name, body) name,
    OPS(NAME)
#undef NAME
};

static uint64_t run(int op, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t r = 0;
  switch (op) {
#define CASE(id, name, body) \
  case OP_##id:              \
    body;                    \
    break;
    OPS(CASE)
#undef CASE
  }
  return r;
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < OP_COUNT; i++) puts(names[i]);
    return 0;
  }
  unsigned char in[32], out[40];
  while (fread(in, sizeof in, 1, stdin) == 1) {
    int op = in[0];
    uint64_t rm = in[1], a = get64(in + 8), b = get64(in + 16), c = get64(in + 24), flags;
    if (op >= OP_COUNT || rm > 4) return 2;
    __asm__ volatile("fsrm %0\n\tfsflags zero" : : "r"(rm));
    uint64_t r = run(op, a, b, c);
    __asm__ volatile("frflags %0" : "=r"(flags));
    memset(out, 0, sizeof out);
    out[0] = (unsigned char)op;
    out[1] = (unsigned char)rm;
    out[2] = (unsigned char)flags;
    memcpy(out + 8, in + 8, 24);
    put64(out + 32, r);
    fwrite(out, sizeof out, 1, stdout);
  }
  return 0;
}
