// Lianfang graph page: a ring or a neighbourhood as an interactive force-directed graph.
// No libraries and no network beyond its own server: it must work offline. Data comes from
// `lianfang analyst serve` (/api/...) or, in a standalone file, from window.LIANFANG_DATA.
// Test hooks: body[data-state] is "loading" | "expanding" | "ready" | "error";
// body[data-layout] is "running" | "stable"; each node is <g class="node" data-id=…>.
(function () {
  "use strict";

  const TYPE_COLOURS = {
    resident_id: "#f59e0b", uscc: "#eab308", phone: "#22c55e", email: "#14b8a6",
    device_id: "#a855f7", ip: "#3b82f6", ip_subnet: "#60a5fa", bank_account: "#ec4899",
    address: "#f97316", legal_rep: "#84cc16",
  };
  const MEMBER_COLOURS = ["#38bdf8", "#34d399", "#fbbf24", "#c084fc", "#f472b6", "#a3e635", "#fb923c", "#2dd4bf"];
  const SVG = "http://www.w3.org/2000/svg";
  const embedded = window.LIANFANG_DATA || null;

  const $ = (id) => document.getElementById(id);
  const svg = $("graph"), viewport = $("viewport"), edgeLayer = $("edges"), nodeLayer = $("nodes");
  const state = {
    nodes: new Map(),   // id -> {id, data, x, y, vx, vy, el}
    edges: new Map(),   // "app\ntoken" -> {a, t, el}
    members: [],
    selected: null,
    ring: null,
    view: { k: 1, x: 0, y: 0 },
    alpha: 0,
    running: false,
  };

  // -- helpers ----------------------------------------------------------------------------
  function typeName(t) { return String(t || "").replace(/^TOKEN_TYPE_/, "").toLowerCase(); }
  function memberColour(member) {
    let i = state.members.indexOf(member);
    if (i < 0) { state.members.push(member); i = state.members.length - 1; }
    return MEMBER_COLOURS[i % MEMBER_COLOURS.length];
  }
  function setStatus(text, s) {
    $("status").textContent = text;
    if (s) document.body.dataset.state = s;
  }
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(tag, text, parent, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || body.error || String(response.status));
    return body;
  }
  function shortId(id) {
    if (id.includes("/")) return id;
    const [key, windowStart] = id.split("@");  // an IP links within a day: "<key>@<window start>"
    const parts = key.split(".");
    const short = parts.length === 4 ? parts[3].slice(0, 8) + "…" : key;
    // Windows start at a configured hour (20:00 UTC by default): the start, not just its date.
    return windowStart ? short + " from " + when(Number(windowStart) * 1000) : short;
  }
  function when(ts) {
    if (!ts) return "";
    const d = new Date(ts);
    return isNaN(d) ? String(ts) : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  // -- data sources -------------------------------------------------------------------------
  const source = embedded ? {
    rings: async () => ({ rings: [embedded.ring], matched: 1 }),
    ring: async () => embedded,
    neighbours: async (id) => ({ graph: (embedded.neighbours && embedded.neighbours[id]) || { nodes: [], edges: [] } }),
  } : {
    rings: () => getJSON("api/rings?limit=20"),
    ring: (q) => getJSON("api/ring?" + new URLSearchParams(q)),
    neighbours: (id) => getJSON("api/neighbours?" + new URLSearchParams({ entity: id, hops: "1" })),
  };

  // -- graph model ----------------------------------------------------------------------------
  function clear() {
    state.nodes.clear(); state.edges.clear(); state.selected = null;
    edgeLayer.replaceChildren(); nodeLayer.replaceChildren();
  }

  function merge(graph, near) {
    let added = 0;
    const base = near ? state.nodes.get(near) : null;
    for (const n of graph.nodes || []) {
      const known = state.nodes.get(n.id);
      if (known) { known.data = n; decorate(known); continue; }
      const angle = Math.random() * 2 * Math.PI, r = base ? 30 + Math.random() * 30 : Math.random() * 250;
      const node = {
        id: n.id, data: n, vx: 0, vy: 0,
        x: (base ? base.x : 0) + r * Math.cos(angle), y: (base ? base.y : 0) + r * Math.sin(angle),
      };
      node.el = drawNode(node);
      state.nodes.set(n.id, node);
      added++;
    }
    for (const e of graph.edges || []) {
      const key = e.application + "\n" + e.token;
      if (state.edges.has(key) || !state.nodes.has(e.application) || !state.nodes.has(e.token)) continue;
      const edge = { a: state.nodes.get(e.application), t: state.nodes.get(e.token) };
      edge.el = el("line", { class: "edge" }, edgeLayer);
      state.edges.set(key, edge);
    }
    return added;
  }

  function drawNode(node) {
    const g = el("g", { class: "node", "data-id": node.id, tabindex: "0" }, nodeLayer);
    const d = node.data;
    if (d.is_token) {
      el("rect", { class: "shape", x: -7, y: -7, width: 14, height: 14, rx: 2, fill: TYPE_COLOURS[typeName(d.token_type)] || "#94a3b8" }, g);
    } else {
      el("circle", { class: "shape", r: 10, fill: memberColour(d.member_id) }, g);
    }
    el("text", { x: 13, y: 4 }, g).textContent = d.is_token ? typeName(d.token_type) : shortId(node.id);
    el("title", {}, g).textContent = node.id;
    g.addEventListener("click", (event) => { event.stopPropagation(); select(node.id, true); });
    g.addEventListener("keydown", (event) => { if (event.key === "Enter") select(node.id, true); });
    node.el = g;
    decorate(node);
    return g;
  }

  function decorate(node) {
    const d = node.data, c = node.el.classList;
    c.toggle("token", !!d.is_token);
    c.toggle("application", !d.is_token);
    c.toggle("hub", !!d.hub);
    c.toggle("blacklisted", !!d.blacklisted);
    c.toggle("fraud", !!d.fraud_confirmed);
  }

  // -- layout: a small force simulation (repulsion, springs, gravity) ---------------------------
  function tick() {
    const nodes = [...state.nodes.values()];
    const alpha = state.alpha;
    for (let i = 0; i < nodes.length; i++) {
      const a = nodes[i];
      for (let j = i + 1; j < nodes.length; j++) {
        const b = nodes[j];
        let dx = a.x - b.x, dy = a.y - b.y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 1) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = 1; }
        if (d2 > 250000) continue;
        const f = (900 / d2) * alpha;
        a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
      }
    }
    for (const { a, t } of state.edges.values()) {
      const dx = t.x - a.x, dy = t.y - a.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      const f = ((d - 55) / d) * 0.08 * alpha;
      a.vx += dx * f; a.vy += dy * f; t.vx -= dx * f; t.vy -= dy * f;
    }
    for (const n of nodes) {
      n.vx -= n.x * 0.004 * alpha; n.vy -= n.y * 0.004 * alpha;
      n.vx *= 0.6; n.vy *= 0.6;
      n.x += Math.max(-30, Math.min(30, n.vx)); n.y += Math.max(-30, Math.min(30, n.vy));
    }
    state.alpha *= 0.985;
  }

  function paint() {
    for (const n of state.nodes.values()) n.el.setAttribute("transform", `translate(${n.x.toFixed(1)},${n.y.toFixed(1)})`);
    for (const { a, t, el: line } of state.edges.values()) {
      line.setAttribute("x1", a.x.toFixed(1)); line.setAttribute("y1", a.y.toFixed(1));
      line.setAttribute("x2", t.x.toFixed(1)); line.setAttribute("y2", t.y.toFixed(1));
    }
    const { k, x, y } = state.view;
    viewport.setAttribute("transform", `translate(${x},${y}) scale(${k})`);
  }

  function fit() {
    const nodes = [...state.nodes.values()];
    if (!nodes.length) return;
    const xs = nodes.map((n) => n.x), ys = nodes.map((n) => n.y);
    const minX = Math.min(...xs) - 50, maxX = Math.max(...xs) + 110, minY = Math.min(...ys) - 50, maxY = Math.max(...ys) + 110;
    const box = svg.getBoundingClientRect();
    const k = Math.min(2, Math.min(box.width / (maxX - minX), box.height / (maxY - minY)));
    state.view = { k, x: box.width / 2 - k * (minX + maxX) / 2, y: box.height / 2 - k * (minY + maxY) / 2 };
  }

  function relayout() {
    state.alpha = 1;
    document.body.dataset.layout = "running";
    if (state.running) return;
    state.running = true;
    const frame = () => {
      for (let i = 0; i < 3; i++) tick();
      fit();
      paint();
      if (state.alpha > 0.02) { requestAnimationFrame(frame); return; }
      state.running = false;
      document.body.dataset.layout = "stable";
    };
    requestAnimationFrame(frame);
  }

  // -- interaction --------------------------------------------------------------------------
  async function select(id, expand) {
    const node = state.nodes.get(id);
    if (!node) return;
    if (state.selected) state.nodes.get(state.selected)?.el.classList.remove("selected");
    state.selected = id;
    node.el.classList.add("selected");
    inspect(node);
    if (!expand || node.el.classList.contains("expanded")) return;
    setStatus(`expanding ${shortId(id)}…`, "expanding");
    try {
      const { graph } = await source.neighbours(id);
      const added = merge(graph, id);
      node.el.classList.add("expanded");
      if (state.selected === id) inspect(node);
      setStatus(`${state.nodes.size} nodes · expanded ${shortId(id)}: +${added}${graph.truncated ? " (truncated)" : ""}`, "ready");
      if (added) relayout();
    } catch (error) {
      setStatus(`could not expand: ${error.message}`, "error");
    }
  }

  function inspect(node) {
    const aside = $("inspector");
    aside.replaceChildren();
    const d = node.data;
    html("h2", d.is_token ? `Token · ${typeName(d.token_type)}` : "Application", aside);
    const dl = html("dl", undefined, aside);
    const row = (k, v) => { html("dt", k, dl); html("dd", String(v), dl); };
    row("id", node.id);
    if (d.is_token) {
      row("applications", d.degree);
      row("hub token", d.hub ? "yes — too common to link (degree cap)" : "no");
    } else {
      row("lender", d.member_id);
      row("received", when(d.received_at));
      row("blacklisted", d.blacklisted ? "yes" : "no");
      row("defaulted", d.defaulted ? "yes" : "no");
      row("fraud confirmed", d.fraud_confirmed ? "yes" : "no");
      row("ring", d.ring_id);
    }
    row("links shown", [...state.edges.values()].filter((e) => e.a === node || e.t === node).length);
    if (state.ring) showRing(state.ring, aside);
  }

  function showRing(ring, parent) {
    html("h2", `Ring · score ${Number(ring.score).toFixed(2)}`, parent);
    const dl = html("dl", undefined, parent);
    const row = (k, v) => { html("dt", k, dl); html("dd", String(v), dl); };
    row("id", ring.ring_id);
    row("applications", ring.size);
    row("lenders", ring.lenders);
    row("applicants", ring.persons);
    row("blacklisted", ring.blacklisted);
    row("defaulted", ring.defaulted);
    row("shared", (ring.shared_token_types || []).map((s) => `${typeName(s.token_type)}×${s.tokens}`).join(", "));
    for (const f of ring.factors || []) {
      if (f.contribution <= 0) continue;
      const div = html("div", undefined, parent, "factor");
      html("div", `${f.name}: ${f.explanation}`, div);
      const bar = html("div", undefined, div, "bar");
      bar.style.width = `${Math.round(100 * f.contribution / Math.max(ring.score, 1e-9))}%`;
    }
  }

  function legend() {
    const box = $("legend");
    box.replaceChildren();
    for (const m of state.members) {
      const row = html("div", undefined, box);
      const i = html("i", undefined, row); i.style.background = memberColour(m);
      html("span", `application · ${m}`, row);
    }
    const types = new Set([...state.nodes.values()].filter((n) => n.data.is_token).map((n) => typeName(n.data.token_type)));
    for (const t of types) {
      const row = html("div", undefined, box);
      const i = html("i", undefined, row, "square"); i.style.background = TYPE_COLOURS[t] || "#94a3b8";
      html("span", t, row);
    }
    html("div", "red ring: blacklisted · dashed: fraud confirmed · grey: hub token", box);
  }

  async function loadRing(query) {
    setStatus("loading ring…", "loading");
    try {
      const answer = await source.ring(query);
      clear();
      state.ring = answer.ring;
      merge(answer.graph);
      for (const b of document.querySelectorAll("#rings button")) b.classList.toggle("current", b.dataset.ring === answer.ring.ring_id);
      const aside = $("inspector");
      aside.replaceChildren();
      showRing(answer.ring, aside);
      const central = answer.central_tokens || [];
      if (central.length) html("p", `most central token: ${shortId(central[0].token)}`, aside, "hint");
      html("p", `${(answer.communities || []).length} communities`, aside, "hint");
      legend();
      relayout();
      setStatus(`${state.nodes.size} nodes · ring ${answer.ring.ring_id}${answer.graph.truncated ? " (truncated)" : ""}`, "ready");
    } catch (error) {
      setStatus(`could not load: ${error.message}`, "error");
    }
  }

  async function loadNeighbourhood(entity) {
    setStatus("loading neighbourhood…", "loading");
    try {
      const { graph } = await source.neighbours(entity);
      clear();
      state.ring = null;
      merge(graph);
      legend();
      relayout();
      setStatus(`${state.nodes.size} nodes around ${shortId(entity)}`, "ready");
    } catch (error) {
      setStatus(`could not load: ${error.message}`, "error");
    }
  }

  async function listRings() {
    const nav = $("rings");
    nav.replaceChildren();
    html("h2", "Top rings", nav);
    try {
      const { rings, matched } = await source.rings();
      for (const ring of rings) {
        const b = html("button", `${ring.size} apps · ${ring.lenders} lenders`, nav);
        b.dataset.ring = ring.ring_id;
        html("span", Number(ring.score).toFixed(2), b, "score");
        b.addEventListener("click", () => loadRing({ id: ring.ring_id }));
      }
      html("p", embedded ? "standalone page: this ring only (offline)" : `${matched} ring(s) in the consortium`, nav, "hint");
      return rings;
    } catch (error) {
      html("p", `could not list rings: ${error.message}`, nav, "hint");
      return [];
    }
  }

  // Pan by dragging the background, zoom with the wheel.
  let drag = null;
  svg.addEventListener("mousedown", (e) => { drag = { x: e.clientX - state.view.x, y: e.clientY - state.view.y }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (e) => {
    if (!drag || state.running) return;
    state.view.x = e.clientX - drag.x; state.view.y = e.clientY - drag.y; paint();
  });
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const k = Math.max(0.1, Math.min(5, state.view.k * (e.deltaY < 0 ? 1.1 : 0.9)));
    const box = svg.getBoundingClientRect(), px = e.clientX - box.left, py = e.clientY - box.top;
    state.view.x = px - (px - state.view.x) * (k / state.view.k);
    state.view.y = py - (py - state.view.y) * (k / state.view.k);
    state.view.k = k;
    if (!state.running) paint();
  }, { passive: false });

  async function main() {
    const params = new URLSearchParams(location.search);
    const rings = await listRings();
    if (params.get("entity")) return loadNeighbourhood(params.get("entity"));
    if (params.get("application")) return loadRing({ application: params.get("application") });
    if (params.get("ring")) return loadRing({ id: params.get("ring") });
    if (embedded) return loadRing({});
    if (rings.length) return loadRing({ id: rings[0].ring_id });
    setStatus("no rings yet", "ready");
  }
  main();
})();
