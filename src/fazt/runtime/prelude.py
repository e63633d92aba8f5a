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
text, plus one Python callable, `__fazt_host(method, argsJson)`, taken into the prelude's
closure and removed from the global object: storage, `fazt.realtime.publish`,
`crypto` randomness and stdlib sources go through it, synchronously. The context runs
without a CPU-time limit (quickjs-ng refuses calls into Python while one is set): its JS
worker *process* is killed at the deadline instead (docs/decisions/005-js-isolation.md).

The source is prelude.js beside this module (package data, so JS tools can check it);
it is read once, at import. legacy_prelude.js (v0.9's root main.js runtime: req, res,
db, socket, process, fetch) is evaluated before it, only in the contexts of deployments
that have a root main.js.
"""

from pathlib import Path

# Read beside this file rather than through importlib.resources, which imports zipfile
# into every server and JS worker (idle memory, issue 22); fazt is never run zipped.
_HERE = Path(__file__).parent
# The leading newline keeps the text identical to what the inline string used to be.
PRELUDE = "\n" + (_HERE / "prelude.js").read_text("utf-8")
LEGACY_PRELUDE = (_HERE / "legacy_prelude.js").read_text("utf-8")
LEGACY_ENTRY = "main.js"  # a deployment's root main.js: the v0.9 legacy runtime's entry
