# The bundled bare-metal demo: prints a greeting through the HTIF console, computes
# the 20th Fibonacci number, and exits with status 0 if it is right.

    .text
    .globl _start
_start:
    la      sp, stack_top
    la      a0, greeting
    call    puts

    li      a0, 20
    call    fib
    li      t0, 6765
    bne     a0, t0, fail

    la      a0, passed
    call    puts
    li      a0, 0
    j       exit
fail:
    li      a0, 1
exit:
    slli    a0, a0, 1
    ori     a0, a0, 1
    la      t0, tohost
    sd      a0, 0(t0)
1:  j       1b

# puts(a0 = NUL-terminated string) through HTIF device 1 (console), command 1 (putchar).
puts:
    la      t1, tohost
    la      t3, fromhost
    li      t2, 0x0101000000000000
2:  lbu     t0, 0(a0)
    beqz    t0, 4f
    or      t0, t0, t2
    sd      t0, 0(t1)
3:  ld      t4, 0(t3)          # wait for the host's acknowledgement
    beqz    t4, 3b
    sd      zero, 0(t3)
    addi    a0, a0, 1
    j       2b
4:  ret

# fib(a0) iteratively.
fib:
    li      t0, 0
    li      t1, 1
5:  beqz    a0, 6f
    add     t2, t0, t1
    mv      t0, t1
    mv      t1, t2
    addi    a0, a0, -1
    j       5b
6:  mv      a0, t0
    ret

    .data
greeting: .asciz "Hello from rvisor: a RISC-V hart in TypeScript.\n"
passed:   .asciz "fib(20) = 6765: pass\n"
    .balign 8
tohost:   .dword 0
fromhost: .dword 0
    .balign 16
    .zero 4096
stack_top:
