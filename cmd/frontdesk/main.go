// Command frontdesk is Caddy with its standard modules and every Frontdesk
// module: the same binary that `xcaddy build --with
// github.com/frontdesk-proxy/frontdesk` produces.
package main

import (
	_ "time/tzdata"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdesk-proxy/frontdesk"
)

func main() { caddycmd.Main() }
