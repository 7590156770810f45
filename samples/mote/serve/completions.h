// mote serve: POST /v1/chat/completions and POST /v1/completions, streaming (SSE) and not.
// A request is validated, tokenized (for the context check and the slot choice), waits for a slot
// in the FIFO queue, then generates on that slot's session: chat with mote_chat_generate (which
// keeps the session's common prefix), text with mote_generate and reuse_prefix. A client that goes
// away (a failed write, or its socket closed) cancels the generation at the next token.
#pragma once

#include <httplib.h>

#include "server.h"

namespace mote::serve {

void handle_chat_completion(ServeContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_completion(ServeContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace mote::serve
