// Package reloadsafe makes config reloads invisible to HTTP/1.1 clients on
// keep-alive connections.
//
// On a reload Caddy starts the new config, then shuts the old HTTP servers
// down: they close their idle keep-alive connections, and a client that is
// just sending its next request on one of them gets a reset or an EOF and no
// answer; Go's server also drops, unanswered, a request it finishes reading
// after its shutdown began. The listener wrapper of this package
// (caddy.listeners.reload_safe) hands such connections to the new config's
// server instead of closing them:
//
//   - Every connection of a server that lists the wrapper passes through a
//     conn of this package. The server's ConnState hook tells it when the
//     server waits between requests, and it keeps a copy of the bytes the
//     server read since its last write: a request not answered yet.
//   - When the replaced server closes a connection on which it leaves a
//     request unanswered (it waited for the next one, or read one and
//     dropped it), or reads the first bytes of another request on it, the
//     conn detaches and queues the connection below, with those bytes, on
//     the newest listener of the same address. The new server serves the
//     request by the new config.
//   - Requests in flight, streaming responses, WebSockets (hijacked) and
//     HTTP/2 connections stay with the old server, which answers in-flight
//     HTTP/1.1 requests with "Connection: close" and sends HTTP/2 clients a
//     GOAWAY. Whatever is still open drain_timeout after the reload is
//     closed; a WebSocket first gets a close frame (1001, going away),
//     placed between frames: the conn follows the frame boundaries of what
//     the server writes once it answered 101 with "Upgrade: websocket".
//   - On Linux the first socket of an address (the anchor) stays open for
//     as long as any generation listens there, and a socket filter on the
//     port's SO_REUSEPORT group makes the kernel queue every new
//     connection on it; every generation takes its connections from the
//     anchor (below its TLS, so they get its TLS settings), and the
//     sockets Caddy opens for later generations never hold a connection,
//     so closing them resets none. Elsewhere a replaced socket keeps
//     accepting for the newest generation for a moment before it closes.
//
// Listeners of one address across config generations meet in a
// [caddy.UsagePool]; generations and their draining connections are served
// on the admin route /reload_safe/generations and as metrics.
package reloadsafe
