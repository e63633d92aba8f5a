// fazt dashboard: start an upgrade and follow its steps until it is finished.
"use strict";

(function () {
  const section = document.getElementById("upgrade-progress");
  const start = document.getElementById("upgrade-start");
  const check = document.getElementById("upgrade-check");
  const out = document.getElementById("upgrade-result");
  if (!section) return;
  const FINISHED = ["committed", "rolled_back", "failed"];
  const token = () => document.querySelector('meta[name="csrf-token"]').content;
  let timer = null;

  function render(up) {
    section.hidden = false;
    section.querySelector("h2").textContent = "Upgrade " + up.from_version + " → " + up.to_version;
    document.getElementById("upgrade-status").textContent = up.status;
    document.getElementById("upgrade-message").textContent = up.message || "";
    const list = document.getElementById("upgrade-steps");
    list.textContent = "";
    for (const s of up.steps || []) {
      const li = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = s.step;
      li.append(name, document.createTextNode(" " + s.at.replace("T", " ").slice(0, 19) + " UTC " + s.message));
      list.appendChild(li);
    }
  }

  async function follow(id) {
    clearTimeout(timer);
    try {
      const response = await fetch("/api/upgrade/" + encodeURIComponent(id), { credentials: "same-origin" });
      if (response.ok) {
        const up = (await response.json()).data;
        render(up);
        if (FINISHED.includes(up.status)) return;
      }
    } catch (err) {
      // the server restarts during an upgrade: keep asking
    }
    timer = setTimeout(() => follow(id), 1000);
  }

  // The check (admin.js) shows the button when a newer version exists.
  if (check && start) {
    new MutationObserver(() => {
      start.hidden = !/update available/.test(out.textContent);
    }).observe(out, { childList: true, characterData: true, subtree: true });
    start.addEventListener("click", async () => {
      start.disabled = true;
      out.textContent = "Starting the upgrade…";
      try {
        const response = await fetch(start.dataset.url, {
          method: "POST",
          headers: { "X-CSRF-Token": token() },
          credentials: "same-origin",
        });
        const body = await response.json().catch(() => null);
        if (!response.ok) {
          out.textContent = "Could not start: " + (body && body.error ? body.error.message : response.status);
          start.disabled = false;
          return;
        }
        out.textContent = body.data.message;
        if (body.data.id) follow(body.data.id);
      } catch (err) {
        out.textContent = "Could not start: " + err;
        start.disabled = false;
      }
    });
  }

  if (section.dataset.id && !section.dataset.finished) follow(section.dataset.id);
})();
