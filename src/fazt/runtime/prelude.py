# ruff: noqa: E501  (JavaScript source: formatted for reading as JavaScript)
"""The JavaScript evaluated once in every context before any app code.

A context belongs to one deployment of one app and serves many of its requests, each in
a fresh scope:
- `api/main.js` runs through a direct eval inside a function, so its top-level
  declarations (var/let/const/function) live in that call's scope, not on the global
  object; its completion value is the eval's value.
- modules (require, file routes) are compiled once per context and re-run per request
  in a fresh function scope, with a per-request module cache.
- the built-ins are frozen at the end of this prelude ("lockdown": every object reachable
  from the global object, with the usual overridable properties such as
  `Error.prototype.name` or `toString` turned into accessors so that assigning them on
  an instance still works);
- the global object's own bindings are made read-only (request, respond, console, fazt
  and require stay writable and are set again for every request); after each request
  `__fazt_reset` deletes what was added to the global object; if that is impossible,
  the context is discarded.

Everything a request needs crosses the Python/JS boundary in a handful of calls, as JSON
text. There are no Python callables: quickjs-ng refuses calls into Python while a time
limit is set, and the time limit is what interrupts a runaway loop. So `fazt.storage.*`
calls are queued in JS and return Promises; the worker takes the queue
(`__fazt_take_calls`), runs the calls in Python and settles the Promises
(`__fazt_deliver`) between Promise jobs.
"""

PRELUDE = r"""
(function () {
  "use strict";
  const G = globalThis;
  const RESP = Symbol("fazt.response");
  const MAX_LOGS = 200, MAX_MSG = 4096;
  let logs = [], dropped = 0, lastResponse, outcome, sources = {};
  let calls = [], waiting = new Map(), nextCall = 1;
  let modules = Object.create(null), kept;
  const compiled = Object.create(null);

  function text(a) {
    if (typeof a === "string") return a;
    if (a instanceof Error) return String(a);
    if (typeof a === "function") return "[Function " + (a.name || "anonymous") + "]";
    try { const s = JSON.stringify(a); return s === undefined ? String(a) : s; }
    catch (e) { return String(a); }
  }
  function add(level, args) {
    if (logs.length >= MAX_LOGS) { dropped++; return; }
    let m = Array.prototype.map.call(args, text).join(" ");
    if (m.length > MAX_MSG) m = m.slice(0, MAX_MSG) + "...";
    logs.push([level, m, Date.now()]);
  }
  function logger(levels) {
    const out = {};
    for (const [name, level] of levels) out[name] = function () { add(level, arguments); };
    return out;
  }
  const CONSOLE_LEVELS = [["log", "info"], ["info", "info"], ["warn", "warn"],
                          ["error", "error"], ["debug", "debug"], ["trace", "debug"]];
  const LOG_LEVELS = [["info", "info"], ["warn", "warn"], ["error", "error"], ["debug", "debug"]];

  function makeRespond() { return function respond(a, b, c) {
    let r;
    if (arguments.length === 0) r = { status: 200, body: null };
    else if (arguments.length === 1)
      r = typeof a === "number" ? { status: a, body: null } : { status: 200, body: a };
    else r = { status: typeof a === "number" ? a : 200, body: b, headers: c };
    Object.defineProperty(r, RESP, { value: true });
    lastResponse = r;
    return r;
  }; }

  function host(method, args, convert) {
    const id = nextCall++;
    calls.push([id, method, args]);
    return new Promise((resolve, reject) => waiting.set(id, [resolve, reject, convert]));
  }
  const parsed = (v) => (v === null || v === undefined ? v : JSON.parse(v));
  const same = (v) => v;
  const str = (v, what) => {
    if (v === undefined || v === null) throw new TypeError(what + " is required");
    return String(v);
  };
  function makeStorage() {
    return ({
      kv: ({
        set(key, value, ttl) {
          if (value === undefined) throw new TypeError("kv.set requires key and value");
          return host("kv_set", [str(key, "key"), JSON.stringify(value), ttl === undefined ? null : ttl], () => undefined);
        },
        get(key) { return host("kv_get", [str(key, "key")], (v) => (v === null ? undefined : JSON.parse(v))); },
        delete(key) { return host("kv_delete", [str(key, "key")], same); },
        list(prefix) { return host("kv_list", [prefix === undefined ? "" : String(prefix)], parsed); },
      }),
      ds: ({
        insert(c, doc) { return host("ds_insert", [str(c, "collection"), JSON.stringify(doc === undefined ? {} : doc)], parsed); },
        find(c, q, o) { return host("ds_find", [str(c, "collection"), JSON.stringify(q || {}), JSON.stringify(o || {})], parsed); },
        findOne(c, q) {
          return host("ds_find_one", [str(c, "collection"), JSON.stringify(q === undefined ? {} : q)], parsed);
        },
        update(c, q, ch) {
          if (ch === undefined) throw new TypeError("ds.update requires collection, query, and changes");
          return host("ds_update", [str(c, "collection"), JSON.stringify(q || {}), JSON.stringify(ch)], same);
        },
        delete(c, q) { return host("ds_delete", [str(c, "collection"), JSON.stringify(q || {})], same); },
        count(c, q) { return host("ds_count", [str(c, "collection"), JSON.stringify(q || {})], same); },
      }),
      s3: ({
        put(path, data, mime) {
          if (data === undefined) throw new TypeError("s3.put requires path and data");
          return host("s3_put", [str(path, "path"), typeof data === "string" ? data : String(data), mime === undefined ? null : mime], parsed);
        },
        get(path) { return host("s3_get", [str(path, "path")], parsed); },
        delete(path) { return host("s3_delete", [str(path, "path")], same); },
        list(prefix) { return host("s3_list", [prefix === undefined ? "" : String(prefix)], parsed); },
      }),
    });
  }

  // -- require(): CommonJS modules under api/, cached per request ---------------------
  function normalise(dir, spec) {
    const parts = spec.startsWith("./") || spec.startsWith("../") ? dir.split("/") : ["api"];
    for (const seg of spec.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        if (parts.length <= 1) return null;  // never above api/
        parts.pop();
      } else parts.push(seg);
    }
    return parts.join("/");
  }
  function fetchSource(path) {
    return Object.prototype.hasOwnProperty.call(sources, path) ? sources[path] : null;
  }
  function requireFrom(dir) {
    return function require(spec) {
      if (typeof spec !== "string" || spec === "") throw new TypeError("require() needs a module path");
      const base = normalise(dir, spec);
      if (base === null) throw new Error("cannot require '" + spec + "': outside api/");
      for (const path of [base, base + ".js", base + ".json", base + "/index.js"]) {
        if (path in modules) return modules[path].exports;
        const src = fetchSource(path);
        if (src === null) continue;
        return loadModule(path, src).exports;
      }
      throw new Error("cannot require '" + spec + "': no module " + base + "(.js) in api/");
    };
  }
  function loadModule(path, src) {
    const module = { exports: {}, id: path };
    modules[path] = module;  // before evaluating: circular requires see partial exports
    if (path.endsWith(".json")) { module.exports = JSON.parse(src); return module; }
    const dir = path.slice(0, path.lastIndexOf("/"));
    let fn = compiled[path];
    if (fn === undefined) try {
      fn = compiled[path] = (0, eval)("(function (exports, require, module, __filename, __dirname) {" + src +
        "\n;if (module.exports === undefined || (typeof module.exports === 'object' && " +
        "Object.keys(module.exports).length === 0 && typeof handler === 'function')) " +
        "module.exports = handler;\n})");
    } catch (e) {
      delete modules[path];
      delete compiled[path];
      throw new SyntaxError("in " + path + ": " + (e && e.message));
    }
    try { fn.call(module.exports, module.exports, requireFrom(dir), module, path, dir); }
    catch (e) { delete modules[path]; throw e; }
    return module;
  }

  function define(name, value) {
    Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  }
  // main.js's top-level `handler(request)` line is rewritten to __fazt_keep(handler(request))
  define("__fazt_keep", function (v) { kept = { v }; return v; });
  define("__fazt_init", function (sourcesJson) { sources = JSON.parse(sourcesJson); });
  // Shared by every request of this context (frozen by the lockdown below); what differs
  // per request lives in the prelude's own variables, reset here.
  let currentEnv = {}, storage, storageOn = false;
  const hasOwn = Object.prototype.hasOwnProperty;
  const ENV_PROTO = {
    get(k, d) { return hasOwn.call(currentEnv, k) ? currentEnv[k] : d; },
    has(k) { return hasOwn.call(currentEnv, k); },
  };
  for (const k of ["get", "has"]) Object.defineProperty(ENV_PROTO, k, { enumerable: false });
  const FAZT_PROTO = {};
  Object.defineProperty(FAZT_PROTO, "storage", { enumerable: true, get() {
    if (!storageOn) return undefined;
    return storage || (storage = makeStorage());
  } });
  const CONSOLE = logger(CONSOLE_LEVELS), LOG = logger(LOG_LEVELS), RESPOND = makeRespond();
  define("__fazt_begin", function (reqJson, ctxJson) {
    const req = JSON.parse(reqJson), ctx = JSON.parse(ctxJson);
    logs = []; dropped = 0; lastResponse = undefined; outcome = undefined; kept = undefined;
    calls = []; waiting = new Map(); modules = Object.create(null);
    currentEnv = ctx.env; storage = undefined; storageOn = !!ctx.storage;
    const env = Object.create(ENV_PROTO);
    for (const k in currentEnv) env[k] = currentEnv[k];
    const fazt = Object.create(FAZT_PROTO);
    fazt.app = { name: ctx.app, id: ctx.app };
    fazt.env = env;
    fazt.log = LOG;
    fazt.version = ctx.version;
    fazt.requestId = req.id;
    G.request = req;
    G.respond = RESPOND;
    G.console = CONSOLE;
    G.fazt = fazt;
    G.require = requireFrom("api");
  });
  define("__fazt_route", function (path) {
    const src = fetchSource(path);
    if (src === null) throw new Error("no route file " + path);
    const m = loadModule(path, src);
    let h = m.exports;
    if (h && typeof h !== "function" && typeof h.default === "function") h = h.default;
    if (typeof h !== "function") throw new TypeError(path + " does not export a handler function");
    return h(G.request);
  });

  function headerList(h) {
    const out = [];
    if (h === undefined || h === null) return out;
    if (typeof h !== "object") throw new TypeError("response headers must be an object");
    for (const k of Object.keys(h)) {
      const v = h[k];
      if (v === undefined || v === null) continue;
      out.push([String(k), typeof v === "object" ? JSON.stringify(v) : String(v)]);
    }
    return out;
  }
  function isResponseObject(v) {
    if (v[RESP]) return true;
    if (Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return false;
    const keys = Object.keys(v);
    if (keys.length === 0) return false;
    for (const k of keys) if (k !== "status" && k !== "body" && k !== "headers") return false;
    return typeof v.status === "number" || "body" in v;
  }
  function encodeBody(body, headers) {
    const hasType = headers.some(([k]) => k.toLowerCase() === "content-type");
    if (body === undefined || body === null) return ["", hasType ? null : null];
    if (typeof body === "string") return [body, hasType ? null : "text/plain; charset=utf-8"];
    if (typeof body === "bigint") body = body.toString();
    const s = JSON.stringify(body);
    return [s === undefined ? "" : s, hasType ? null : "application/json"];
  }
  function serialise(v) {
    // A trailing statement such as console.log("done") leaves `undefined` (null from
    // Python) as the completion value: the last respond() result is the answer then.
    if (v === undefined || v === null) {
      if (kept !== undefined) v = kept.v;
      else if (lastResponse !== undefined) v = lastResponse;
    }
    let status = 200, headers = [], body = v;
    if (v !== null && typeof v === "object" && isResponseObject(v)) {
      status = v.status === undefined ? 200 : v.status;
      headers = headerList(v.headers);
      body = v.body;
    }
    if (typeof status !== "number" || !Number.isFinite(status))
      throw new TypeError("response status must be a number");
    status = Math.trunc(status);
    const [text, type] = encodeBody(body, headers);
    if (type) headers.push(["content-type", type]);
    // join() builds a flat string: the binding cannot convert quickjs-ng's string ropes
    return [JSON.stringify({ s: status, h: headers, l: takeLogs() }), text].join("\n");
  }
  function takeLogs() {
    const out = logs;
    if (dropped) out.push(["warn", dropped + " more log lines dropped (limit " + MAX_LOGS + ")", Date.now()]);
    logs = []; dropped = 0;
    return out;
  }
  define("__fazt_finish", function (v) {
    if ((v === undefined || v === null) && kept !== undefined) v = kept.v;
    if (v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function") {
      outcome = undefined;
      Promise.resolve(v).then(
        (x) => { outcome = { ok: x }; },
        (e) => { outcome = { err: e === undefined ? new Error("undefined") : e }; });
      return null;
    }
    return serialise(v);
  });
  define("__fazt_collect", function () {
    if (outcome === undefined) return null;
    if ("err" in outcome) throw outcome.err;
    return serialise(outcome.ok);
  });
  define("__fazt_logs", function () { return JSON.stringify(takeLogs()); });
  define("__fazt_take_calls", function () {
    if (calls.length === 0) return null;
    const out = JSON.stringify(calls);
    calls = [];
    return out;
  });
  define("__fazt_deliver", function (resultsJson) {
    for (const [id, error, value] of JSON.parse(resultsJson)) {
      const w = waiting.get(id);
      if (!w) continue;
      waiting.delete(id);
      if (error !== null) w[1](new Error(error));
      else {
        try { w[0](w[2](value)); } catch (e) { w[1](e); }
      }
    }
  });
  const runMain = (0, eval)("(function (__fazt_src) { return eval(__fazt_src); })");
  define("__fazt_main", runMain);
  // One call per request in the common case: begin, run, normalise, reset. Returns null
  // for a pending Promise (see __fazt_collect), else "1" (context reusable) or "0",
  // followed by the head line and the body.
  define("__fazt_handle", function (reqJson, ctxJson, entry, src) {
    G.__fazt_begin(reqJson, ctxJson);
    const value = src === null ? G.__fazt_route(entry) : runMain(src);
    const out = G.__fazt_finish(value);
    if (out === null) return null;
    return [G.__fazt_reset() ? "1" : "0", out].join("");
  });

  // -- lockdown: freeze what every request shares -------------------------------------
  const OVERRIDABLE = ["constructor", "toString", "valueOf", "toLocaleString", "name",
                       "message", "toJSON", "hasOwnProperty", "isPrototypeOf",
                       "propertyIsEnumerable", "stack", "then", "catch", "finally"];
  const seen = new Set();
  function allowOverride(obj) {
    for (const key of OVERRIDABLE) {
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if (!d || !("value" in d) || !d.writable || !d.configurable) continue;
      const value = d.value;
      Object.defineProperty(obj, key, {  // methods: no .prototype to harden in turn
        get() { return value; },
        set(v) {
          if (this === obj) throw new TypeError("cannot change the shared built-in " + key);
          Object.defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
        },
        enumerable: d.enumerable, configurable: false,
      });
    }
  }
  function harden(root) {
    const stack = [root];
    while (stack.length) {
      const obj = stack.pop();
      if ((typeof obj !== "object" && typeof obj !== "function") || obj === null || seen.has(obj)) continue;
      seen.add(obj);
      if (obj !== G) {
        if (Object.prototype.hasOwnProperty.call(obj, "constructor")) allowOverride(obj);
        Object.freeze(obj);
      }
      stack.push(Object.getPrototypeOf(obj));
      for (const key of Reflect.ownKeys(obj)) {
        const d = Object.getOwnPropertyDescriptor(obj, key);
        if (!d) continue;
        if ("value" in d) stack.push(d.value); else { stack.push(d.get); stack.push(d.set); }
      }
    }
  }
  allowOverride(Error.prototype);
  for (const name of ["request", "respond", "console", "fazt", "require"]) define(name, undefined);
  harden(G);
  // The global object's own bindings are fixed (the per-request ones stay writable and
  // are set again by __fazt_begin), so a reset only has to delete what was added.
  const PER_REQUEST = new Set(["request", "respond", "console", "fazt", "require"]);
  let baseline, baseProto;
  define("__fazt_reset", function () {
    const keys = Reflect.ownKeys(G);
    if (keys.length !== baseline.size) {
      for (const key of keys) {
        if (baseline.has(key)) continue;
        try { if (!delete G[key]) return false; } catch (e) { return false; }
      }
    }
    return Object.getPrototypeOf(G) === baseProto && Object.isExtensible(G);
  });
  harden(G.__fazt_reset);
  for (const key of Reflect.ownKeys(G)) {
    const d = Object.getOwnPropertyDescriptor(G, key);
    if (!d.configurable) continue;
    if ("value" in d) d.writable = PER_REQUEST.has(key);
    d.configurable = false;
    Object.defineProperty(G, key, d);
  }
  baseline = new Set(Reflect.ownKeys(G));
  baseProto = Object.getPrototypeOf(G);
})();
"""
