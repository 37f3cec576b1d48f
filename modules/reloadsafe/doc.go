// Package reloadsafe makes config reloads invisible to HTTP/1.1 clients on
// keep-alive connections.
//
// On a reload Caddy starts the new config, then shuts the old HTTP servers
// down: they close their idle keep-alive connections, and a client that is
// just sending its next request on one of them gets a reset or an EOF and no
// answer. The listener wrapper of this package (caddy.listeners.reload_safe)
// hands such a connection to the new config's server instead of closing it:
//
//   - Every connection of a server that lists the wrapper passes through a
//     conn of this package, and the server tells it (through its ConnState
//     hook) when it waits between requests.
//   - When the old server closes a connection that waits between requests,
//     or reads the first bytes of another request on it after the reload,
//     the conn keeps the bytes read, detaches, and queues the connection
//     below, with those bytes, on the newest listener of the same address.
//     The new server serves the next request by the new config.
//   - Requests already in flight, streaming responses, WebSockets (hijacked)
//     and HTTP/2 connections stay with the old server, which answers
//     in-flight HTTP/1.1 requests with "Connection: close" and sends HTTP/2
//     clients a GOAWAY. Whatever is still open drain_timeout after the reload
//     is closed.
//
// Listeners of one address across config generations meet in a
// [caddy.UsagePool]; generations and their draining connections are served
// on the admin route /reload_safe/generations and as metrics.
package reloadsafe
