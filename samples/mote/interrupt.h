// Ctrl-C (SIGINT) while the CLI generates: the first one asks the running generation to stop (the
// token callback polls interrupt_requested()); a second one before it stopped exits at once, so a
// long prefill that cannot poll never traps the user.
#pragma once

namespace mote::cli {

// Installs the handler (no SA_RESTART: a blocking read of a pipe returns, so the caller notices).
// exit_code: the status of the second Ctrl-C's immediate exit.
void install_interrupt_handler(int exit_code);
bool interrupt_requested();
// Forgets earlier Ctrl-Cs (after a stopped reply, before the next one).
void clear_interrupt();

}  // namespace mote::cli
