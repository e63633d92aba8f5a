(function () {
  "use strict";
  const G = globalThis;
  const RESP = Symbol("fazt.response");
  const MAX_LOGS = 200, MAX_MSG = 4096;
  let logs = [], dropped = 0, lastResponse, outcome, sources = {};
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

  // The one Python callable (see sandbox.py): HOST(method, ...args) returns "S" + text,
  // "V" + JSON, "N" (nothing), "E" + an error message to throw, or "A" + the message of
  // fazt.storage.user called with nobody signed in (thrown as a 401 for the handler).
  // Arguments cross as strings, numbers, booleans or null (structured values are JSON
  // text already): anything else becomes its String(), which the Python side's checks
  // refuse.
  const HOST = G.__fazt_host;
  delete G.__fazt_host;
  function host(method, args, convert) {
    for (let i = 0; i < args.length; i++) {
      const v = args[i], t = typeof v;
      if (v === undefined) args[i] = null;
      else if (v !== null && t !== "string" && t !== "number" && t !== "boolean") args[i] = String(v);
      // A lone UTF-16 surrogate is not Unicode: Python could not even receive it.
      if (typeof args[i] === "string" && !args[i].isWellFormed())
        throw new TypeError("a string passed to fazt contains a lone UTF-16 surrogate (not valid Unicode)");
      // The binding would end the string there: a key "a\0b" would silently become "a".
      if (typeof args[i] === "string" && args[i].includes("\0"))
        throw new TypeError("a string passed to fazt contains a NUL character (pass binary data as a Uint8Array)");
    }
    const out = HOST(method, ...args);
    const tag = out[0], rest = out.slice(1);
    if (tag === "E") throw new Error(rest);
    if (tag === "A") throw authRefusal(401, "AUTH_REQUIRED", rest);
    const value = tag === "S" ? rest : tag === "V" ? JSON.parse(rest) : null;
    return convert(value);
  }
  const parsed = (v) => (v === null || v === undefined ? v : JSON.parse(v));
  const same = (v) => v;
  const str = (v, what) => {
    if (v === undefined || v === null) throw new TypeError(what + " is required");
    return String(v);
  };

  // -- bytes: base64 and UTF-8 without TextEncoder (QuickJS has none) -----------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64_INDEX = new Uint8Array(128);
  for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
  function toBase64(bytes) {
    let out = "";
    const parts = [];
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] +
        (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < bytes.length ? B64[n & 63] : "=");
      if (out.length > 8192) { parts.push(out); out = ""; }
    }
    parts.push(out);
    return parts.join("");
  }
  function fromBase64(text) {
    const clean = text.replace(/=+$/, "");
    const bytes = new Uint8Array(Math.floor(clean.length * 3 / 4));
    let j = 0;
    for (let i = 0; i < clean.length; i += 4) {
      const n = (B64_INDEX[clean.charCodeAt(i)] << 18) | (B64_INDEX[clean.charCodeAt(i + 1)] << 12) |
        (B64_INDEX[clean.charCodeAt(i + 2)] << 6) | B64_INDEX[clean.charCodeAt(i + 3)];
      bytes[j++] = n >> 16;
      if (i + 2 < clean.length) bytes[j++] = (n >> 8) & 255;
      if (i + 3 < clean.length) bytes[j++] = n & 255;
    }
    return bytes;
  }
  function utf8Decode(bytes) {
    const parts = [];
    let chunk = [];
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      let cp = 0xfffd, n = 1;
      if (b < 0x80) cp = b;
      else if (b >= 0xc2 && b < 0xe0 && (bytes[i + 1] & 0xc0) === 0x80) { cp = ((b & 31) << 6) | (bytes[i + 1] & 63); n = 2; }
      else if (b >= 0xe0 && b < 0xf0 && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
        cp = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63); n = 3;
        if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = 0xfffd;
      } else if (b >= 0xf0 && b < 0xf5 && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
        cp = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63); n = 4;
        if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
      }
      chunk.push(cp);
      i += n;
      if (chunk.length >= 4096) { parts.push(String.fromCodePoint.apply(null, chunk)); chunk = []; }
    }
    parts.push(String.fromCodePoint.apply(null, chunk));
    return parts.join("");
  }
  function binary(data) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return null;
  }
  const OBJECT_PROTO = {
    get text() { return utf8Decode(fromBase64(this.data)); },
    get bytes() { return fromBase64(this.data); },
  };

  const hostCall = host;
  // prefix "user_": fazt.storage.user, the same calls on the signed-in visitor's own rows
  // (the server side picks the visitor from the session: sandbox.py, bindings.py)
  function makeStorage(prefix) {
    const host = (method, args, convert) => hostCall(prefix + method, args, convert);
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
        // v0.9 returned the new document's id (storage/compat_v09.py lists these shapes)
        insert(c, doc) { return host("ds_insert", [str(c, "collection"), JSON.stringify(doc === undefined ? {} : doc)], (v) => JSON.parse(v).id); },
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
          const bytes = binary(data);
          const args = bytes === null ? [str(path, "path"), "text", typeof data === "string" ? data : String(data)]
                                      : [str(path, "path"), "base64", toBase64(bytes)];
          args.push(mime === undefined ? null : mime);
          return host("s3_put", args, parsed);
        },
        get(path) {
          return host("s3_get", [str(path, "path")], (v) => {
            if (v === null) return null;
            const o = JSON.parse(v), out = Object.create(OBJECT_PROTO);
            out.path = o.path; out.data = o.data_b64; out.mime = o.mime; out.size = o.size;
            out.sha256 = o.sha256; out.hash = o.sha256; out.updatedAt = o.updatedAt;  // hash: v0.9's name
            return out;
          });
        },
        delete(path) { return host("s3_delete", [str(path, "path")], same); },
        list(prefix) { return host("s3_list", [prefix === undefined ? "" : String(prefix)], parsed); },
      }),
    });
  }
  // Shared by the context's requests (hardened by the lockdown below): building it per
  // request cost ~40 us, as much as the rest of a trivial request's JavaScript.
  const STORAGE = makeStorage("");
  STORAGE.user = makeStorage("user_");
  // fazt.private: the deployment's files under private/ (runtime/private_files.py)
  const readPrivate = (path, encoding) => host("private_read", [str(path, "path"), encoding], same);
  const PRIVATE = Object.freeze({
    read(path) { return readPrivate(path, "text"); },
    json(path) { const t = readPrivate(path, "text"); return t === null ? null : JSON.parse(t); },
    bytes(path) { const b = readPrivate(path, "base64"); return b === null ? null : fromBase64(b); },
    list(prefix) { return host("private_list", [prefix === undefined ? "" : String(prefix)], same); },
  });
  const REALTIME = Object.freeze({  // shared by the context's requests: frozen
    publish(channel, message) {
      if (message === undefined) throw new TypeError("realtime.publish requires channel and message");
      host("rt_publish", [str(channel, "channel"), JSON.stringify(message)], same);
    },
  });

  // -- fazt.auth: the signed-in visitor (api/visitor_auth.py finds it from the cookie) --
  // requireUser/requireRole throw an error carrying AUTH_REFUSAL: the handler's answer
  // becomes 401/403 JSON (see refusalOf), unless the app catches it.
  const AUTH_REFUSAL = Symbol("fazt.auth.refusal");
  const ROLE_RANK = { user: 1, admin: 2, owner: 3 };
  let currentUser = null;
  function authRefusal(status, code, message) {
    const e = new Error(message);
    Object.defineProperty(e, AUTH_REFUSAL, { value: { status, code } });
    return e;
  }
  const userCopy = () => (currentUser === null ? null : Object.assign({}, currentUser));
  const AUTH = Object.freeze({
    user() { return userCopy(); },
    requireUser() {
      if (currentUser === null) throw authRefusal(401, "UNAUTHENTICATED", "sign in first");
      return userCopy();
    },
    requireRole(role) {
      role = str(role, "role");
      if (!ROLE_RANK[role]) throw new TypeError("a role is owner, admin or user");
      const user = AUTH.requireUser();
      if ((ROLE_RANK[user.role] || 0) < ROLE_RANK[role])
        throw authRefusal(403, "FORBIDDEN", "this needs the role " + role);
      return user;
    },
  });
  function refusalOf(e) {
    const r = e !== null && typeof e === "object" ? e[AUTH_REFUSAL] : undefined;
    if (r === undefined) return null;
    return { status: r.status, body: { error: { code: r.code, message: e.message } } };
  }

  // -- crypto: getRandomValues and randomUUID from the operating system's generator ----
  const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
                          Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
  function randomBytes(n) { return fromBase64(host("random", [n], same)); }
  const CRYPTO = {
    getRandomValues(array) {
      if (!INTEGER_ARRAYS.some((T) => array instanceof T))
        throw new TypeError("crypto.getRandomValues needs an integer typed array");
      if (array.byteLength > 65536) throw new RangeError("crypto.getRandomValues: at most 65536 bytes");
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(randomBytes(array.byteLength));
      return array;
    },
    randomUUID() {
      const b = randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      let h = "";
      for (let i = 0; i < 16; i++) {
        h += (b[i] + 0x100).toString(16).slice(1);
        if (i === 3 || i === 5 || i === 7 || i === 9) h += "-";
      }
      return h;
    },
  };
  Object.defineProperty(G, "crypto", { value: CRYPTO, writable: false, configurable: false, enumerable: false });

  // -- fazt.net.fetch and fazt.secret (runtime/net.py does the fetching) ----------------
  // A secret is a name: its string form is a marker, with a nonce a visitor cannot guess,
  // that the fetch binding replaces by the app's env value when it builds the request.
  let secretNonce = null;
  function nonce() {
    if (secretNonce === null) {
      const b = randomBytes(16);
      let h = "";
      for (let i = 0; i < 16; i++) h += (b[i] + 0x100).toString(16).slice(1);
      secretNonce = h;
    }
    return secretNonce;
  }
  const SECRET_PROTO = {
    toString() { return "{{fazt-secret:" + nonce() + ":" + this.name + "}}"; },
    toJSON() { return this.toString(); },
  };
  function secret(name) {
    name = str(name, "fazt.secret name");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError("fazt.secret: invalid env var name");
    const s = Object.create(SECRET_PROTO);
    Object.defineProperty(s, "name", { value: name, enumerable: true });
    return Object.freeze(s);
  }
  const FETCH_RESPONSE = {
    json() { return JSON.parse(this.body); },
    text() { return this.body; },
  };
  function fetchOptions(o) {
    if (o === undefined || o === null) o = {};
    if (typeof o !== "object") throw new TypeError("fetch options must be an object");
    const headers = {};
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== "object") throw new TypeError("fetch headers must be an object");
      for (const k of Object.keys(o.headers)) {
        const v = o.headers[k];
        if (v !== undefined && v !== null) headers[k] = String(v);
      }
    }
    let body = o.body === undefined ? null : o.body;
    if (body !== null && typeof body !== "string") {
      body = JSON.stringify(body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type"))
        headers["content-type"] = "application/json";
    }
    return JSON.stringify({ method: o.method === undefined ? null : o.method, headers, body,
                           timeout: o.timeout === undefined ? null : o.timeout });
  }
  const NET = {
    fetch(url, options) {
      const r = host("net_fetch", [str(url, "fetch url"), fetchOptions(options), nonce()], parsed);
      add(r.error === undefined ? "info" : "warn", [r.log]);
      if (r.error !== undefined) throw new Error(r.error);
      const out = Object.create(FETCH_RESPONSE);
      out.status = r.status; out.ok = r.status >= 200 && r.status < 300;
      out.headers = r.headers; out.body = r.body; out.url = r.url; out.redirected = r.redirected;
      return out;
    },
  };

  // -- require(): CommonJS modules under api/, and the stdlib, cached per request -------
  // QuickJS names every evaluated source "<input>", so each source gets its own range of
  // line numbers (padded with newlines) and `locate` maps "<input>:N" back to a file.
  let nextLine = 1, mainPadded = null, mainSource = null, mainPadding = "", mainFn = null;
  let mainCompilable = false;
  const ranges = [];  // [first line, last line, file]
  const stdlib = Object.create(null);  // frozen stdlib exports, shared by requests
  function place(file, src) {
    const start = nextLine, lines = src.split("\n").length;
    nextLine += lines + 2;
    ranges.push([start, start + lines, file]);
    return "\n".repeat(start - 1);
  }
  function locate(text) {
    const re = /<input>:(\d+)/g;
    let m, fallback = null;
    while ((m = re.exec(String(text))) !== null) {
      const n = Number(m[1]);
      for (const [first, last, file] of ranges) {
        if (n < first || n > last) continue;
        const hit = [file, n - first + 1];
        if (!file.startsWith("stdlib:")) return hit;
        if (fallback === null) fallback = hit;
      }
    }
    return fallback;
  }
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
  const STDLIB = ["lodash", "dayjs", "marked", "uuid", "validator", "zod", "cheerio"];
  function requireFrom(dir) {
    return function require(spec) {
      if (typeof spec !== "string" || spec === "") throw new TypeError("require() needs a module path");
      if (STDLIB.includes(spec)) {  // the stdlib comes first, as in v0.9
        // Evaluated once per context, then frozen and shared by its requests: building
        // lodash or cheerio costs milliseconds (their regular expressions), not microseconds.
        const key = "stdlib:" + spec;
        if (key in stdlib) return stdlib[key];
        let src = fetchSource(key);
        if (src === null) src = sources[key] = host("stdlib", [spec], same);
        const exports = loadModule(key, src).exports;
        harden(exports, true);
        return (stdlib[key] = exports);
      }
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
  // A function compiled from app code is shared by the context's requests, and the code
  // can reach it (`arguments.callee` in sloppy mode): frozen, so that no request leaves
  // anything on it for the next one.
  function sealed(fn) {
    Object.freeze(fn.prototype);
    return Object.freeze(fn);
  }
  function compile(path, src) {
    const code = "(function (exports, require, module, __filename, __dirname) {" + src +
      "\n;if (module.exports === undefined || (typeof module.exports === 'object' && " +
      "Object.keys(module.exports).length === 0 && typeof handler === 'function')) " +
      "module.exports = handler;\n})";
    return sealed((0, eval)(place(path, code) + code));
  }
  function loadModule(path, src) {
    const module = { exports: {}, id: path };
    modules[path] = module;  // before evaluating: circular requires see partial exports
    if (path.endsWith(".json")) { module.exports = JSON.parse(src); return module; }
    const dir = path.startsWith("stdlib:") ? "api" : path.slice(0, path.lastIndexOf("/"));
    let fn = compiled[path];
    if (fn === undefined) try {
      fn = compiled[path] = compile(path, src);
    } catch (e) {
      delete modules[path];
      delete compiled[path];
      throw e;
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
  // Once per context: the deployment's sources, and where the prelude's lines end.
  define("__fazt_init", function (sourcesJson, firstLine) {
    sources = JSON.parse(sourcesJson);
    nextLine = firstLine;
    const main = fetchSource("api/main.js");
    if (main !== null) {
      mainSource = main;
      mainPadding = place("api/main.js", main);
      mainPadded = mainPadding + main;
      // The usual v0.9 form ends with `handler(request);` (rewritten to keep its value),
      // followed at most by comments and console calls: then the completion value is the
      // kept one, and main.js can be compiled once as a function instead of re-parsed by
      // eval on every request.
      const i = main.lastIndexOf(KEEP);
      mainCompilable = i >= 0 && ONLY_LOGS_AFTER.test(main.slice(i + KEEP.length));
    }
  });
  define("__fazt_locate", function (text) { return JSON.stringify(locate(text)); });
  // Shared by every request of this context (frozen by the lockdown below); what differs
  // per request lives in the prelude's own variables, reset here.
  let currentEnv = {}, storageOn = false, lastCtxJson = null, lastCtx;
  const hasOwn = Object.prototype.hasOwnProperty;
  const ENV_PROTO = {
    get(k, d) { return hasOwn.call(currentEnv, k) ? currentEnv[k] : d; },
    has(k) { return hasOwn.call(currentEnv, k); },
  };
  for (const k of ["get", "has"]) Object.defineProperty(ENV_PROTO, k, { enumerable: false });
  const FAZT_PROTO = {};
  Object.defineProperty(FAZT_PROTO, "storage", { enumerable: true, get() {
    return storageOn ? STORAGE : undefined;
  } });
  const CONSOLE = logger(CONSOLE_LEVELS), LOG = logger(LOG_LEVELS), RESPOND = makeRespond();
  define("__fazt_begin", function (reqJson, ctxJson) {
    const req = JSON.parse(reqJson);
    currentUser = req.auth || null;
    delete req.auth;
    if (ctxJson !== lastCtxJson) { lastCtx = JSON.parse(ctxJson); lastCtxJson = ctxJson; }
    const ctx = lastCtx;
    logs = []; dropped = 0; lastResponse = undefined; outcome = undefined; kept = undefined;
    modules = Object.create(null);
    currentEnv = ctx.env; storageOn = !!ctx.storage;
    const env = Object.create(ENV_PROTO);
    for (const k in currentEnv) env[k] = currentEnv[k];
    const fazt = Object.create(FAZT_PROTO);
    fazt.app = { name: ctx.app, id: ctx.app };
    fazt.env = env;
    fazt.log = LOG;
    fazt.version = ctx.version;
    fazt.requestId = req.id;
    fazt.private = PRIVATE;
    G.request = req;
    G.respond = RESPOND;
    G.console = CONSOLE;
    G.fazt = fazt;
    G.require = requireFrom("api");
    fazt.realtime = REALTIME;
    fazt.net = NET;
    fazt.secret = secret;
    fazt.auth = AUTH;
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
    let [text, type] = encodeBody(body, headers);
    // Lone surrogates cannot be sent as UTF-8: replaced by U+FFFD, as TextEncoder does.
    if (!text.isWellFormed()) text = text.toWellFormed();
    if (type) headers.push(["content-type", type]);
    return answerFrame(status, headers, takeLogs(), text);
  }
  // The worker's answer frame as it crosses the pipe (outcome.py): "D", the head's JSON
  // ({"s","h","l"}), a newline, the body (NUL would end the string in the binding). The
  // head is put together here, only its strings through JSON.stringify: one call on the
  // whole object costs twice as much (each call has a fixed cost of ~1 us in QuickJS).
  // join() builds a flat string: the binding cannot convert quickjs-ng's string ropes.
  // A body holding a NUL goes as a JSON string, marked "j" (the binding ends strings at NUL).
  function answerFrame(status, headers, logs, text) {
    const parts = ['D{"s":', String(status), ',"h":['];
    for (let i = 0; i < headers.length; i++) {
      parts.push(i ? ",[" : "[", JSON.stringify(headers[i][0]), ",", JSON.stringify(headers[i][1]), "]");
    }
    parts.push('],"l":', logs.length ? JSON.stringify(logs) : "[]");
    if (text.includes("\0")) parts.push(',"j":1}\n', JSON.stringify(text));
    else parts.push("}\n", text);
    return parts.join("");
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
    if ("err" in outcome) {
      const refused = refusalOf(outcome.err);
      if (refused === null) throw outcome.err;
      return serialise(refused);
    }
    return serialise(outcome.ok);
  });
  define("__fazt_logs", function () { return JSON.stringify(takeLogs()); });
  const runMain = (0, eval)("(function (__fazt_src) { return eval(__fazt_src); })");
  define("__fazt_main", runMain);
  const KEEP = "__fazt_keep(handler(request));";
  const ONLY_LOGS_AFTER = /^(?:\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/|console\.\w+\([^\n]*\);?)*$/;
  function main() {
    if (mainFn !== null) return mainFn.call(G);
    // The first run is an eval, so that what is a syntax error in a script (a top-level
    // `return`) stays one; once it has parsed, later requests use the compiled function.
    const value = runMain(mainPadded);
    if (mainCompilable) {
      mainCompilable = false;
      try { mainFn = sealed((0, eval)(mainPadding + "(function () {" + mainSource + "\n})")); }
      catch (e) { mainFn = null; }
    }
    return value;
  }
  // A root main.js (v0.9's legacy runtime): legacy_prelude.js, evaluated just before this
  // prelude in the contexts of deployments that have one, left its setup function.
  let legacy = null, legacyFn = null;
  const LEGACY_SETUP = G.__fazt_legacy_setup;
  if (LEGACY_SETUP !== undefined) {
    delete G.__fazt_legacy_setup;
    legacy = LEGACY_SETUP({ compile: compileLegacy, host, takeLogs, answerFrame });
  }
  // main.js as the body of a function with these parameters, compiled once per context
  // (a syntax error too: it is thrown again, without placing the source again).
  function compileLegacy(path, params) {
    if (legacyFn === null) {
      const src = fetchSource(path);
      if (src === null) throw new Error("no source " + path);
      const code = "(function (" + params + ") {" + src + "\n})";
      try { legacyFn = { fn: sealed((0, eval)(place(path, code) + code)) }; }
      catch (e) { legacyFn = { error: e }; }
    }
    if (legacyFn.error !== undefined) throw legacyFn.error;
    return legacyFn.fn;
  }
  // One call per request in the common case: begin, run, normalise, reset. Returns null
  // for a pending Promise (see __fazt_collect), else the answer frame (serialise), its
  // first letter lowercase when the context must not be reused.
  define("__fazt_handle", function (reqJson, ctxJson, entry) {
    G.__fazt_begin(reqJson, ctxJson);
    let out;
    if (entry === "main.js") {  // answers through res.send/json, not a completion value
      if (legacy === null) throw new Error("this deployment has no root main.js");
      out = legacy(G.request);
    } else {
      let v;
      try { v = entry === "api/main.js" ? main() : G.__fazt_route(entry); }
      catch (e) { v = refusalOf(e); if (v === null) throw e; }
      out = G.__fazt_finish(v);
      if (out === null) return null;
    }
    // "D...": the context may serve another request; "d...": it may not (a failed reset)
    return G.__fazt_reset() ? out : ["d", out.slice(1)].join("");
  });

  // -- lockdown: freeze what every request shares -------------------------------------
  const OVERRIDABLE = ["constructor", "toString", "valueOf", "toLocaleString", "name",
                       "message", "toJSON", "hasOwnProperty", "isPrototypeOf",
                       "propertyIsEnumerable", "stack", "then", "catch", "finally"];
  const seen = new Set();
  function allowOverride(obj, keys) {
    for (const key of keys || OVERRIDABLE) {
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
  // everyKey: all methods may be shadowed on instances (`this.parse = this.parse.bind(this)`
  // in a constructor), as libraries written for an unfrozen world expect.
  function harden(root, everyKey) {
    const stack = [root];
    while (stack.length) {
      const obj = stack.pop();
      if ((typeof obj !== "object" && typeof obj !== "function") || obj === null || seen.has(obj)) continue;
      seen.add(obj);
      if (obj !== G) {
        if (everyKey) allowOverride(obj, Reflect.ownKeys(obj));
        else if (Object.prototype.hasOwnProperty.call(obj, "constructor")) allowOverride(obj);
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
  // The reset below lists the global object's own keys only when a request may have
  // added one: an enumerable key shows in a for-in, a symbol key in the symbol count, and
  // a non-enumerable one can only come from these three functions, which note it.
  let globalDefined = false;
  for (const [owner, name] of [[Object, "defineProperty"], [Object, "defineProperties"],
                               [Reflect, "defineProperty"]]) {
    const original = owner[name];
    const wrapped = original.length === 3
      ? { [name](target, key, attributes) {
          if (target === G) globalDefined = true;
          return original(target, key, attributes);
        } }[name]
      : { [name](target, properties) {
          if (target === G) globalDefined = true;
          return original(target, properties);
        } }[name];
    Object.defineProperty(owner, name, { value: wrapped, writable: true, configurable: true });
  }
  harden(G);
  // The global object's own bindings are fixed (the per-request ones stay writable and
  // are set again by __fazt_begin), so a reset only has to delete what was added.
  const PER_REQUEST = new Set(["request", "respond", "console", "fazt", "require"]);
  let baseline, baseProto, baseSymbols, baseEnumerable;
  define("__fazt_reset", function () {
    let added = globalDefined || Object.getOwnPropertySymbols(G).length !== baseSymbols;
    if (!added) {
      let n = 0;
      for (const key in G) n++;
      added = n !== baseEnumerable;
    }
    if (added) {
      globalDefined = false;
      const keys = Reflect.ownKeys(G);
      if (keys.length !== baseline.size) {
        for (const key of keys) {
          if (baseline.has(key)) continue;
          try { if (!delete G[key]) return false; } catch (e) { return false; }
        }
      }
    }
    return Object.getPrototypeOf(G) === baseProto && Object.isExtensible(G);
  });
  harden(G.__fazt_reset);
  harden(STORAGE);
  harden(NET);
  harden(secret);
  harden(SECRET_PROTO, true);
  harden(FETCH_RESPONSE, true);
  harden(PRIVATE);
  harden(AUTH);
  for (const key of Reflect.ownKeys(G)) {
    const d = Object.getOwnPropertyDescriptor(G, key);
    if (!d.configurable) continue;
    if ("value" in d) d.writable = PER_REQUEST.has(key);
    d.configurable = false;
    Object.defineProperty(G, key, d);
  }
  baseline = new Set(Reflect.ownKeys(G));
  baseProto = Object.getPrototypeOf(G);
  baseSymbols = Object.getOwnPropertySymbols(G).length;
  baseEnumerable = 0;
  for (const key in G) baseEnumerable++;
  globalDefined = false;
})();
