package mysqlproxy

import "errors"

// Reasons a session ends, as its close log line says them; errors and
// refused logins are logged with their own message.
const (
	reasonClientQuit    = "client quit"
	reasonClientLeft    = "client left"
	reasonIdleTimeout   = "idle timeout"
	reasonServerStopped = "server stopped"
)

// closeKind groups the ways a session ends, for counting.
type closeKind uint8

const (
	closedError closeKind = iota
	closedClientQuit
	closedClientLeft
	closedIdleTimeout
	closedWriteTimeout
	closedServerStopped
	closedLoginFailed
	closedPanic
	numCloseKinds
)

// closeKindNames are the kinds as the admin API and the metrics label them.
var closeKindNames = []string{"error", "client_quit", "client_left", "idle_timeout", "write_timeout",
	"server_stopped", "login_failed", "panic"}

// closeKindOf tells how a session ended from its logged reason and the
// error that ended it.
func closeKindOf(reason string, err error) closeKind {
	var stall *stallError
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		return closedPanic
	case reason == reasonClientQuit:
		return closedClientQuit
	case reason == reasonClientLeft:
		return closedClientLeft
	case reason == reasonIdleTimeout:
		return closedIdleTimeout
	case reason == reasonServerStopped:
		return closedServerStopped
	case errors.Is(err, errLoginFailed):
		return closedLoginFailed
	case errors.As(err, &stall):
		return closedWriteTimeout
	}
	return closedError
}
