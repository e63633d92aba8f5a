// The globals of fazt v0.9's root main.js runtime ("legacy": req, res, db, socket,
// process, fetch) on top of the sandbox of prelude.js. Evaluated just before prelude.js,
// only in the contexts of deployments that have a root main.js (sandbox.py); it leaves
// one function on the global object, which prelude.js takes and removes before its
// lockdown, passing it what it needs of the prelude's internals. See docs/serverless.md
// ("A root main.js") and reference runtime-storage.md §1.15 for v0.9's behaviour.
(function () {
  "use strict";
  const G = globalThis;
  // main.js is the body of a function with these parameters, so they look like globals to
  // it, and its own top-level declarations stay in the call's scope (v0.9 used a fresh VM
  // per request: nothing survives a request there either).
  const PARAMS = "req, res, db, socket, process, fetch";
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  // Go's http.CanonicalHeaderKey, as v0.9 passed header names: content-type -> Content-Type
  function canonical(name) {
    if (!TOKEN.test(name)) return name;
    return name.toLowerCase().replace(/(^|-)([a-z])/g, (m, dash, c) => dash + c.toUpperCase());
  }

  function makeRes() {
    // Status and headers count until the first send/json (later calls are ignored, as
    // v0.9's immediate writes made them); every send/json appends to the body.
    const state = { status: 200, headers: [], body: [], written: false };
    function setHeader(name, value) {
      const lower = name.toLowerCase();
      const i = state.headers.findIndex(([k]) => k.toLowerCase() === lower);
      if (i >= 0) state.headers[i] = [name, value]; else state.headers.push([name, value]);
    }
    function hasType() { return state.headers.some(([k]) => k.toLowerCase() === "content-type"); }
    function write(text, type) {
      if (!state.written && !hasType()) setHeader("Content-Type", type);
      state.written = true;
      state.body.push(text);
    }
    const res = {
      status(code) {
        const n = Number(code);
        if (!Number.isFinite(n)) throw new TypeError("res.status needs a number, got " + String(code));
        if (!state.written) state.status = Math.trunc(n);
        return res;
      },
      header(name, value) {
        if (!state.written) setHeader(String(name), String(value));
        return res;
      },
      send(text) { write(String(text), "text/html; charset=utf-8"); return res; },
      json(value) {
        const s = JSON.stringify(value);
        write(s === undefined ? "null" : s, "application/json");
        return res;
      },
    };
    function finish() {  // nothing written: an empty HTML page, as in v0.9
      if (!state.written && !hasType()) setHeader("Content-Type", "text/html; charset=utf-8");
      let text = state.body.join("");
      if (!text.isWellFormed()) text = text.toWellFormed();  // as prelude.js does
      return [state.status, state.headers, text];
    }
    return [res, finish];
  }

  function makeDb(kv) {
    // v0.9 stored strings as they were and anything else as JSON, and parsed what it read
    // back when it was JSON: so db.set("k", "123") reads back as the number 123. Here the
    // values live in the app's kv (fazt.storage.kv) as JSON; a string read back is parsed
    // the same way.
    return {
      get(key) {
        const v = kv.get(String(key));
        if (v === undefined || v === null) return null;
        if (typeof v !== "string") return v;
        try { return JSON.parse(v); } catch (e) { return v; }
      },
      set(key, value) { kv.set(String(key), value === undefined ? null : value); },
      delete(key) { kv.delete(String(key)); },
    };
  }

  function setup(internals) {
    const { compile, host, takeLogs, answerFrame } = internals;
    // One request: the request object of prelude.js (with the v0.9 extras the server
    // added) in, the prelude's "head \n body" answer out.
    return function run(request) {
      const extra = request.v09 || { query: "", clients: 0 };
      delete request.v09;
      const headers = {};
      for (const k of Object.keys(request.headers)) headers[canonical(k)] = request.headers[k];
      const req = {
        method: request.method, path: request.path, query: extra.query, headers,
        body: request.rawBody,
      };
      const [res, finish] = makeRes();
      const db = makeDb(G.fazt.storage.kv);
      const socket = {
        broadcast(message) {
          if (message === undefined) throw new TypeError("socket.broadcast requires a message");
          const text = typeof message === "string" ? message : JSON.stringify(message);
          host("rt_broadcast", [text], () => undefined);
        },
        clients() { return extra.clients; },
      };
      const env = {};
      for (const k of Object.keys(G.fazt.env)) env[k] = G.fazt.env[k];
      const proc = { env };
      // v0.9's synchronous fetch: {status, headers, body} or {error}, never a throw; here on
      // top of fazt.net.fetch, so the app's allowlist and every address check apply.
      function fetch(url, options) {
        const o = options === undefined || options === null ? {} : options;
        try {
          const r = G.fazt.net.fetch(url, { method: o.method, headers: o.headers, body: o.body });
          const headers = {};
          for (const k of Object.keys(r.headers)) headers[canonical(k)] = r.headers[k];
          return { status: r.status, headers, body: r.body };
        } catch (e) {
          return { error: String(e && e.message !== undefined ? e.message : e) };
        }
      }
      compile("main.js", PARAMS).call(undefined, req, res, db, socket, proc, fetch);
      const [status, list, text] = finish();
      return answerFrame(status, list, takeLogs(), text);
    };
  }
  Object.defineProperty(G, "__fazt_legacy_setup", { value: setup, configurable: true });
})();
