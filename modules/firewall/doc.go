// Package firewall is Frontdesk's firewall, the access_rules handler
// (http.handlers.access_rules): ordered allow, deny and log rules over the
// client's networks (prefix tries, network files re-read on change), Caddy
// request matchers on a canonical path, and the authenticated user. The
// admin route /frontdesk/firewall shows every rule's hits.
package firewall
