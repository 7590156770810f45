// Ctrl-C (SIGINT) while the CLI generates: the first one asks the running generation to stop (the
// token callback polls interrupt_requested()); a second one before it stopped exits at once, so a
// long prefill that cannot poll never traps the user. At a prompt (set_at_prompt), a SIGINT
// quits: it means Ctrl-C at an empty prompt (typed before the line editor took the terminal) or
// a kill -INT from outside.
#pragma once

namespace mote::cli {

// Installs the handler (no SA_RESTART: a blocking read of a pipe returns, so the caller notices)
// and remembers the terminal's mode, restored by an exit from the handler.
// exit_code: the status of the handler's immediate exit.
void install_interrupt_handler(int exit_code);
bool interrupt_requested();
// Forgets earlier Ctrl-Cs (after a stopped reply, before the next one).
void clear_interrupt();
// While true, a SIGINT restores the terminal and exits at once.
void set_at_prompt(bool at_prompt);

}  // namespace mote::cli
