// Instructions retired by every call of one function, counted natively on x86-64 Linux by
// single-stepping with ptrace (scripts/count-insn.sh): the second method next to qemu's logs,
// and the only one for AVX-512, which qemu 7.2's TCG does not emulate.
//   ptrace_count <entry address, hex> <program> [args...]
// The program must be a static, non-PIE executable (link addresses = run-time addresses). A
// breakpoint (int3) at `entry` stops every call; from there the child is single-stepped until
// the stack pointer rises above its value at entry (the call has returned), so callees are
// counted and the instructions of the caller are not. Prints "calls=N insns=M" on stderr after
// the program's own output. Each step is two context switches: about a million steps per second.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  perror(what);
  exit(2);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <entry-hex> <program> [args...]\n", argv[0]);
    return 2;
  }
  const uint64_t entry = strtoull(argv[1], NULL, 16);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) die("PTRACE_TRACEME");
    execv(argv[2], argv + 2);
    die("execv");
  }
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) die("waitpid (exec stop)");
  errno = 0;
  const long orig = ptrace(PTRACE_PEEKTEXT, pid, (void*)entry, NULL);
  if (errno != 0) die("PTRACE_PEEKTEXT");
  const long with_bp = (orig & ~0xffL) | 0xcc;
  if (ptrace(PTRACE_POKETEXT, pid, (void*)entry, (void*)with_bp) != 0) die("PTRACE_POKETEXT");
  uint64_t calls = 0, insns = 0;
  for (;;) {
    if (ptrace(PTRACE_CONT, pid, NULL, NULL) != 0) die("PTRACE_CONT");
    if (waitpid(pid, &status, 0) < 0) die("waitpid");
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    if (WSTOPSIG(status) != SIGTRAP) {  // pass other signals on
      if (ptrace(PTRACE_CONT, pid, NULL, (void*)(long)WSTOPSIG(status)) != 0) die("PTRACE_CONT (signal)");
      continue;
    }
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) != 0) die("PTRACE_GETREGS");
    if (regs.rip != entry + 1) {
      fprintf(stderr, "ptrace_count: unexpected SIGTRAP at %#llx\n", (unsigned long long)regs.rip);
      return 2;
    }
    // Back to the original instruction at entry, then step through the call.
    regs.rip = entry;
    if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) != 0) die("PTRACE_SETREGS");
    if (ptrace(PTRACE_POKETEXT, pid, (void*)entry, (void*)orig) != 0) die("PTRACE_POKETEXT (restore)");
    const uint64_t sp_at_entry = regs.rsp;  // holds the return address; the ret pops it
    ++calls;
    for (;;) {
      if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) != 0) die("PTRACE_SINGLESTEP");
      if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) die("waitpid (step)");
      ++insns;
      if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) != 0) die("PTRACE_GETREGS (step)");
      if (regs.rsp > sp_at_entry) break;  // returned to the caller
    }
    if (ptrace(PTRACE_POKETEXT, pid, (void*)entry, (void*)with_bp) != 0) die("PTRACE_POKETEXT (re-arm)");
  }
  fprintf(stderr, "calls=%llu insns=%llu\n", (unsigned long long)calls, (unsigned long long)insns);
  return 0;
}
