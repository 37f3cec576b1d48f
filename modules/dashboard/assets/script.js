// Frontdesk dashboard: renders every snapshot of the event stream (one a
// second) into the page. Rates and sparklines come from successive
// snapshots. Data only ever reaches the page through textContent and
// attributes, never as markup.
"use strict";

(function () {
	const historySeconds = Number(document.body.dataset.history) || 300;
	const SVG = "http://www.w3.org/2000/svg";

	// series keeps the samples of each sparkline, by key: [{t, v}].
	const series = new Map();
	// previous is the last snapshot, for rates.
	let previous = null;

	const stateWords = {
		healthy: "healthy",
		slow_start: "slow start",
		ejected: "ejected",
		breaker_open: "breaker open",
		breaker_half_open: "breaker half-open",
		down: "down",
	};

	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null) e.textContent = String(text);
		if (cls) e.className = cls;
		return e;
	}

	function stateCell(key, words) {
		const td = el("td", words, "text state state-" + key);
		return td;
	}

	function num(v, digits) {
		if (v === null || v === undefined || Number.isNaN(v)) return "–";
		return Number(v).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 0 : digits });
	}

	function ms(ns) {
		return num(ns / 1e6, ns < 10e6 ? 2 : 1) + " ms";
	}

	function ago(date, now) {
		const s = Math.max(0, Math.round((now - date) / 1000));
		if (s < 60) return s + " s ago";
		if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
		return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
	}

	// rate returns the per-second change of a counter between the previous
	// snapshot and this one, or null for the first snapshot.
	function rate(now, prev, dt) {
		if (prev === undefined || prev === null || !(dt > 0)) return null;
		return Math.max(0, now - prev) / dt;
	}

	function record(key, t, v) {
		let s = series.get(key);
		if (!s) {
			s = [];
			series.set(key, s);
		}
		if (v !== null && v !== undefined) s.push({ t: t, v: v });
		while (s.length && s[0].t < t - historySeconds * 1000) s.shift();
		s.seen = t;
		return s;
	}

	// spark draws a series as an SVG polyline with a text alternative.
	function spark(s, label, unit) {
		const td = el("td", null, "spark-cell");
		const svg = document.createElementNS(SVG, "svg");
		svg.setAttribute("class", "spark");
		svg.setAttribute("viewBox", "0 0 100 20");
		svg.setAttribute("preserveAspectRatio", "none");
		svg.setAttribute("role", "img");
		let max = 0;
		for (const p of s) max = Math.max(max, p.v);
		const last = s.length ? s[s.length - 1].v : null;
		svg.setAttribute("aria-label", label + " over the last " + Math.round(historySeconds / 60) +
			" minutes: now " + num(last, 2) + unit + ", at most " + num(max, 2) + unit);
		const title = document.createElementNS(SVG, "title");
		title.textContent = svg.getAttribute("aria-label");
		svg.appendChild(title);
		if (s.length > 1) {
			const t0 = s[0].t, span = Math.max(s[s.length - 1].t - t0, 1);
			const points = s.map(function (p) {
				const x = ((p.t - t0) / span) * 100;
				const y = 19 - (max > 0 ? (p.v / max) * 18 : 0);
				return x.toFixed(1) + "," + y.toFixed(1);
			});
			const line = document.createElementNS(SVG, "polyline");
			line.setAttribute("points", points.join(" "));
			svg.appendChild(line);
		}
		td.appendChild(svg);
		return td;
	}

	function table(caption, headers, rows) {
		const t = el("table");
		if (caption) t.appendChild(el("caption", caption));
		const thead = el("thead"), hr = el("tr");
		for (const h of headers) {
			const th = el("th", h.label || h, h.text ? "text" : "");
			th.scope = "col";
			hr.appendChild(th);
		}
		thead.appendChild(hr);
		t.appendChild(thead);
		const tbody = el("tbody");
		for (const r of rows) tbody.appendChild(r);
		t.appendChild(tbody);
		return t;
	}

	function row(cells) {
		const tr = el("tr");
		cells.forEach(function (c, i) {
			let td;
			if (c instanceof Node) td = c;
			else if (i === 0) {
				td = el("th", c);
				td.scope = "row";
			} else td = el("td", c);
			tr.appendChild(td);
		});
		return tr;
	}

	// section shows a section with the given tables, or hides it when
	// there are none: unconfigured modules show nothing.
	function section(id, tables) {
		const sec = document.getElementById(id);
		const box = sec.querySelector(".tables");
		box.replaceChildren.apply(box, tables);
		sec.hidden = tables.length === 0;
	}

	function renderUpstreams(scopes, prev, t, dt) {
		const prevBy = new Map();
		for (const sc of (prev || [])) for (const u of sc.upstreams) prevBy.set(sc.scope + "\u0000" + u.address, u);
		return (scopes || []).map(function (sc) {
			const rows = sc.upstreams.map(function (u) {
				const key = sc.scope + "\u0000" + u.address;
				const p = prevBy.get(key);
				const total = (x) => x.success + x.server_errors + x.gateway_errors + x.too_many_requests;
				const errs = (x) => x.server_errors + x.gateway_errors;
				const rq = p ? rate(total(u.totals), total(p.totals), dt) : null;
				const er = p ? rate(errs(u.totals), errs(p.totals), dt) : null;
				const s = record("up\u0000" + key, t, rq);
				const tr = row([
					u.address,
					stateCell(u.state, stateWords[u.state] || u.state),
					u.latency_known ? ms(u.latency_ns) : "–",
					num(u.in_flight),
					num(rq, 1),
					num(er, 1),
					spark(s, "Requests per second", "/s"),
					stateCell(u.breaker, u.breaker === "none" ? "none" : u.breaker),
					num(u.weight_factor * 100) + " %",
				]);
				tr.dataset.upstream = u.address;
				tr.dataset.state = u.state;
				return tr;
			});
			return table("Scope " + sc.scope, [
				{ label: "Upstream", text: true }, { label: "State", text: true }, "Latency", "In flight",
				"Requests/s", "Errors/s", { label: "Requests, trend", text: true }, { label: "Breaker", text: true }, "Weight",
			], rows);
		});
	}

	function renderRouteBreakers(list) {
		if (!list || list.length === 0) return [];
		let unnamed = 0;
		const rows = list.map(function (b) {
			const name = b.name || "unnamed " + (++unnamed);
			const tr = row([name, stateCell(b.state, b.state)]);
			tr.dataset.breaker = name;
			return tr;
		});
		return [table(null, [{ label: "Route breaker", text: true }, { label: "State", text: true }], rows)];
	}

	function backendState(b) {
		if (b.breaker === "open") return ["breaker_open", "breaker open"];
		if (b.health && !b.health.reachable) return ["down", "down"];
		if (!b.usable) {
			return b.role === "replica" && b.health && b.health.reachable ? ["lagging", "not used (lag or replication)"] : ["down", "down"];
		}
		if (b.breaker === "half-open") return ["breaker_half_open", "breaker half-open"];
		return ["healthy", "healthy"];
	}

	function renderMySQL(servers, prev, t, dt) {
		const names = Object.keys(servers || {}).sort();
		const out = [];
		for (const name of names) {
			const s = servers[name], p = prev && prev[name];
			const prevBack = new Map();
			for (const b of ((p && p.backends) || [])) prevBack.set(b.address, b);
			const summary = row([
				name, num(s.sessions_open), num(s.sessions_total),
				num(p ? rate(s.statements_primary, p.statements_primary, dt) : null, 1),
				num(p ? rate(s.statements_replica, p.statements_replica, dt) : null, 1),
				num(p ? rate(s.errors, p.errors, dt) : null, 1),
				num(s.login_failures),
				s.connections_refused ? num(Object.values(s.connections_refused).reduce((a, b) => a + b, 0)) : "–",
				num(s.multiplexing_ratio, 1),
			]);
			out.push(table("Server " + name, [
				{ label: "Server", text: true }, "Sessions open", "Sessions total", "To primary/s",
				"To replicas/s", "Errors/s", "Login failures", "Refused before login", "Sessions per pooled connection",
			], [summary]));
			const rows = (s.backends || []).map(function (b) {
				const st = backendState(b);
				const lag = b.health && b.health.lag_ns !== undefined && b.health.lag_ns !== null ? b.health.lag_ns / 1e9 : null;
				const ls = record("lag\u0000" + name + "\u0000" + b.address, t, lag);
				const pb = prevBack.get(b.address);
				const tr = row([
					b.address,
					el("td", b.role, "text"),
					stateCell(st[0], st[1]),
					b.role === "replica" ? (lag === null ? "unknown" : num(lag, 1) + " s") : "–",
					b.role === "replica" ? spark(ls, "Replication lag", " s") : el("td", "–"),
					stateCell(b.breaker, b.breaker),
					b.pool ? num(b.open_connections) + " (" + num(b.pool.idle) + " idle)" : num(b.open_connections),
					num(b.in_flight),
					num(pb ? rate(b.routed, pb.routed, dt) : null, 1),
					el("td", (b.health && b.health.gtid_position) || "–", "text"),
				]);
				tr.dataset.backend = b.address;
				tr.dataset.state = st[0];
				return tr;
			});
			if (rows.length) {
				out.push(table("Backends of " + name, [
					{ label: "Backend", text: true }, { label: "Role", text: true }, { label: "State", text: true },
					"Lag", { label: "Lag, trend", text: true }, { label: "Breaker", text: true }, "Connections",
					"In flight", "Routed/s", { label: "GTID position", text: true },
				], rows));
			}
		}
		return out;
	}

	function renderAuth(auth, prev, dt) {
		if (!auth) return [];
		const out = [];
		const prevBy = new Map();
		for (const r of ((prev && prev.results) || [])) prevBy.set(r.provider + "\u0000" + r.result, r.requests);
		if (auth.results && auth.results.length) {
			out.push(table(null, [{ label: "Provider", text: true }, { label: "Result", text: true }, "Requests", "Per second"],
				auth.results.map(function (r) {
					const p = prevBy.get(r.provider + "\u0000" + r.result);
					return row([r.provider, el("td", r.result, "text"), num(r.requests), num(rate(r.requests, p, dt), 1)]);
				})));
		}
		if (auth.jwks && auth.jwks.length) {
			out.push(table("Remote key sets", [{ label: "URL", text: true }, "Keys", "Fetches", "Failures", { label: "Last error", text: true }],
				auth.jwks.map(function (k) {
					const st = k.status || {};
					return row([k.url, num((k.keys || []).length), num(st.fetches), num(st.failures), el("td", st.last_error || "none", "text")]);
				})));
		}
		return out;
	}

	function renderFirewall(fw, prev, dt) {
		if (!fw) return [];
		const out = [];
		const prevBy = new Map();
		for (const f of ((prev && prev.firewalls) || [])) for (const r of f.rules) prevBy.set(f.name + "\u0000" + r.rule, r.hits);
		for (const f of (fw.firewalls || [])) {
			out.push(table("Firewall " + (f.name || "(unnamed)"), [{ label: "Rule", text: true }, { label: "Action", text: true }, "Hits", "Per second"],
				f.rules.map(function (r) {
					return row([r.rule, el("td", r.action, "text"), num(r.hits), num(rate(r.hits, prevBy.get(f.name + "\u0000" + r.rule), dt), 1)]);
				})));
		}
		if (fw.network_files && fw.network_files.length) {
			out.push(table("Network files", [{ label: "File", text: true }, "Networks", { label: "Last error", text: true }],
				fw.network_files.map(function (f) {
					return row([f.path, num(f.networks), el("td", f.last_error || "none", "text")]);
				})));
		}
		return out;
	}

	function renderRateLimits(zones, prev, dt) {
		if (!zones || zones.length === 0) return [];
		const prevBy = new Map();
		for (const z of (prev || [])) prevBy.set(z.zone, z);
		return [table(null, [
			{ label: "Zone", text: true }, { label: "Key", text: true }, { label: "Limit", text: true }, "Keys",
			"Allowed/s", "Limited/s", { label: "Decisions", text: true }, "Evictions",
		], zones.map(function (z) {
			const p = prevBy.get(z.zone);
			const d = z.decisions || {};
			const limit = [];
			if (z.events) limit.push(z.events + " per " + z.window + (z.burst ? ", burst " + z.burst : ""));
			if (z.max_in_flight) limit.push(z.max_in_flight + " in flight");
			const limited = (x) => ((x && x.limited) || 0) + ((x && x.in_flight_limited) || 0);
			return row([
				z.zone, el("td", z.key, "text"), el("td", limit.join("; "), "text"), num(z.keys),
				num(p ? rate(d.allowed || 0, (p.decisions || {}).allowed || 0, dt) : null, 1),
				num(p ? rate(limited(d), limited(p.decisions), dt) : null, 1),
				el("td", Object.keys(d).sort().map((k) => k + " " + d[k]).join(", "), "text"),
				num(z.evictions),
			]);
		}))];
	}

	function renderGenerations(gens, now) {
		if (!gens || gens.length === 0) return [];
		return [table(null, [{ label: "Generation", text: true }, { label: "Loaded", text: true }, { label: "State", text: true }, "Connections"],
			gens.map(function (g) {
				const loaded = new Date(g.loaded);
				return row([String(g.generation), el("td", loaded.toLocaleTimeString() + " (" + ago(loaded, now) + ")", "text"),
					stateCell(g.state, g.state), num(g.connections)]);
			}))];
	}

	function render(snap) {
		const m = snap.modules || {};
		const pm = (previous && previous.modules) || {};
		const t = Date.parse(snap.time);
		const dt = previous ? (t - Date.parse(previous.time)) / 1000 : 0;
		if (previous && !(dt > 0)) return; // the same snapshot again
		const now = new Date(t);

		section("upstreams", renderUpstreams(m.upstreams, pm.upstreams, t, dt));
		section("route-breakers", renderRouteBreakers(m.route_breakers));
		section("mysql", renderMySQL(m.mysql, pm.mysql, t, dt));
		section("auth", renderAuth(m.auth, pm.auth, dt));
		section("firewall", renderFirewall(m.firewall, pm.firewall, dt));
		section("rate-limits", renderRateLimits(m.rate_limits, pm.rate_limits, dt));
		section("reload-safe", renderGenerations(m.reload_safe, now));

		// Forget the series of upstreams and backends that are gone.
		for (const [k, s] of series) if (s.seen !== t) series.delete(k);

		if (snap.config_loaded) {
			const loaded = new Date(snap.config_loaded);
			document.getElementById("config-loaded").textContent = loaded.toLocaleString() + " (" + ago(loaded, now) + ")";
		}
		// reload_safe numbers the wrapper of each server of each config.
		const serving = (m.reload_safe || []).filter((g) => g.state === "serving").map((g) => g.generation);
		document.getElementById("config-generation").textContent = serving.length ? serving.join(", ") : "unknown (no reload_safe listener)";
		document.getElementById("updated").textContent = now.toLocaleTimeString();
		previous = snap;
	}

	const status = document.getElementById("status");
	function setStatus(text, bad) {
		status.textContent = text;
		status.classList.toggle("error", !!bad);
	}

	const events = new EventSource("events");
	events.onopen = function () { setStatus("Live", false); };
	events.onmessage = function (e) {
		try {
			render(JSON.parse(e.data));
			setStatus("Live", false);
		} catch (err) {
			setStatus("Could not show the latest update: " + err.message, true);
		}
	};
	events.onerror = function () { setStatus("Disconnected; reconnecting…", true); };
})();
