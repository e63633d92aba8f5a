"""The tracking script served at /_fazt/t.js on every user site (and injected into its
HTML pages). Same origin as the page, so no CORS; no cookies, no storage."""

import hashlib

SCRIPT_PATH = "/_fazt/t.js"
TRACK_PATH = "/_fazt/track"
TAG = b'<script src="/_fazt/t.js" defer></script>'

# Sends one beacon per page (and per in-app navigation of single-page apps) with the
# path and the referrer. window.fazt.track("name") records a custom event. Honours
# Do-Not-Track and Global Privacy Control in the browser too (the server checks again).
SOURCE = b"""(function () {
  "use strict";
  var w = window, n = navigator, last = null;
  if (n.doNotTrack === "1" || w.doNotTrack === "1" || n.globalPrivacyControl) return;
  function send(body) {
    var data = JSON.stringify(body);
    try {
      if (n.sendBeacon && n.sendBeacon("/_fazt/track", data)) return;
    } catch (e) {}
    if (w.fetch) {
      fetch("/_fazt/track", {method: "POST", body: data, keepalive: true,
        credentials: "omit"}).catch(function () {});
    }
  }
  function pageview() {
    var path = location.pathname;
    if (path === last) return;
    // After an in-app navigation the referrer is this site itself.
    send({p: path, r: last === null ? document.referrer : ""});
    last = path;
  }
  w.fazt = w.fazt || {};
  w.fazt.track = function (name) {
    send({p: location.pathname, n: String(name).slice(0, 100)});
  };
  var push = history.pushState;
  history.pushState = function () {
    var result = push.apply(this, arguments);
    pageview();
    return result;
  };
  w.addEventListener("popstate", pageview);
  pageview();
})();
"""
ETAG = '"' + hashlib.sha256(SOURCE).hexdigest()[:32] + '"'
HEADERS = [
    ("content-type", "text/javascript; charset=utf-8"),
    ("cache-control", "public, max-age=3600"),
    ("etag", ETAG),
    ("x-content-type-options", "nosniff"),
]


def inject(html: bytes) -> bytes | None:
    """`html` with the script tag before </head> (else before </body>); None when the
    file is not a whole HTML document (a fragment is left alone)."""
    lower = html.lower()
    for marker in (b"</head>", b"</body>"):
        at = lower.find(marker)
        if at != -1:
            return html[:at] + TAG + html[at:]
    return None
