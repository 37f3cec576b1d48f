// Package dashboard is Frontdesk's live dashboard, the frontdesk_dashboard
// handler (http.handlers.frontdesk_dashboard): a page that shows, updated
// every second, what the admin routes know (upstreams and their breakers,
// route breakers, MySQL backends, auth, firewall and rate-limit counters,
// config generations), and the JSON snapshot behind it. It reads the
// modules' state through the adminjson registry, never over HTTP, and
// serves on any site, behind whatever auth and firewall the route has.
package dashboard
