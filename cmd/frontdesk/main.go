package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdesk-proxy/frontdesk"
)

func main() { caddycmd.Main() }
