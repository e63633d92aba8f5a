// fazt dashboard: follow the logs page live (poll /logs/feed with the page's filters).
"use strict";

(function () {
  const table = document.getElementById("log-lines");
  const toggle = document.getElementById("follow");
  if (!table || !toggle) return;
  document.getElementById("follow-label").hidden = false;
  const body = table.tBodies[0];
  const count = document.getElementById("log-count");
  const filters = new URLSearchParams(window.location.search);
  let after = Number(table.dataset.after || 0);
  let timer = null;

  function row(line) {
    const tr = body.insertRow();
    tr.className = "lvl-" + line.level;
    tr.insertCell().textContent = line.created_at.replace("T", " ").slice(0, 16) + " UTC";
    tr.insertCell().textContent = line.app;
    tr.insertCell().textContent = line.level;
    const pre = document.createElement("pre");
    pre.textContent = line.message;
    tr.insertCell().appendChild(pre);
  }

  async function poll() {
    if (document.hidden || !toggle.checked) return;
    filters.set("after", String(after));
    try {
      const response = await fetch(table.dataset.feed + "?" + filters, { credentials: "same-origin" });
      if (!response.ok) return;
      const lines = (await response.json()).data || [];
      for (const line of lines) {
        row(line);
        after = Math.max(after, line.id);
      }
      if (lines.length) count.textContent = body.rows.length + " lines.";
    } catch (err) {
      // the server may be restarting: the next tick tries again
    }
  }

  timer = setInterval(poll, 2000);
  toggle.addEventListener("change", () => { if (toggle.checked) poll(); });
  window.addEventListener("pagehide", () => clearInterval(timer));
})();
