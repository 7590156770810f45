#include "interrupt.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

namespace mote::cli {
namespace {

volatile sig_atomic_t g_count = 0;
volatile sig_atomic_t g_at_prompt = 0;
int g_exit_code = 130;
bool g_tty = false;
bool g_have_mode = false;
termios g_mode{};

void on_sigint(int) {
  g_count = g_count + 1;
  if (g_count < 2 && !g_at_prompt) return;
  // Only async-signal-safe calls here (write, tcsetattr, _exit). The line editor may have the
  // terminal in raw mode: put back the mode it had at start.
  if (g_have_mode) tcsetattr(STDIN_FILENO, TCSANOW, &g_mode);
  static const char kReset[] = "\x1b[0m\n";
  if (g_tty) (void)!write(STDOUT_FILENO, kReset, sizeof(kReset) - 1);
  _exit(g_exit_code);
}

}  // namespace

void install_interrupt_handler(int exit_code) {
  g_exit_code = exit_code;
  g_tty = isatty(STDOUT_FILENO);
  g_have_mode = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_mode) == 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

bool interrupt_requested() { return g_count > 0; }

void clear_interrupt() { g_count = 0; }

void set_at_prompt(bool at_prompt) { g_at_prompt = at_prompt ? 1 : 0; }

}  // namespace mote::cli
