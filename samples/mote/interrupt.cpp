#include "interrupt.h"

#include <signal.h>
#include <unistd.h>

namespace mote::cli {
namespace {

volatile sig_atomic_t g_count = 0;
int g_exit_code = 130;
bool g_tty = false;

void on_sigint(int) {
  g_count = g_count + 1;
  if (g_count < 2) return;
  // Only async-signal-safe calls here. The terminal is in its normal mode while generating (the
  // line editor restored it when it returned the line), so only colours need resetting.
  static const char kReset[] = "\x1b[0m\n";
  if (g_tty) (void)!write(STDOUT_FILENO, kReset, sizeof(kReset) - 1);
  _exit(g_exit_code);
}

}  // namespace

void install_interrupt_handler(int exit_code) {
  g_exit_code = exit_code;
  g_tty = isatty(STDOUT_FILENO);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

bool interrupt_requested() { return g_count > 0; }

void clear_interrupt() { g_count = 0; }

}  // namespace mote::cli
