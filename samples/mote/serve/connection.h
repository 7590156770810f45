// mote serve: the socket of the request being handled, so a handler can see that its client went
// away while it waits for a slot or generates (cpp-httplib 0.11.4 gives handlers no socket and no
// "connection closed" call). The socket is found by its addresses: httplib fills Request's
// remote_addr/remote_port and local_port from getpeername/getsockname of the very socket.
#pragma once

#include <httplib.h>

namespace mote::serve {

// The descriptor of req's connection, or -1 when it cannot be told apart.
int find_connection_fd(const httplib::Request& req);
// True when the peer has closed the connection (or it failed). Never blocks; data waiting to be
// read (a pipelined request) is not a close.
bool peer_closed(int fd);

}  // namespace mote::serve
