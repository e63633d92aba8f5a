// fazt dashboard: small enhancements. Every page also works without this file.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Upgrade page: ask the server whether a newer version exists.
function setupUpgradeCheck() {
  const button = document.getElementById("upgrade-check");
  const out = document.getElementById("upgrade-result");
  if (!button || !out) return;
  out.textContent = "";
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.textContent = "Checking…";
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST",
        headers: { "X-CSRF-Token": csrfToken() },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        const message = body && body.error ? body.error.message : response.statusText;
        out.textContent = "Could not check: " + message;
      } else {
        const data = body ? body.data : null;
        out.textContent = data && data.message ? data.message : JSON.stringify(data);
      }
    } catch (err) {
      out.textContent = "Could not check: " + err;
    } finally {
      button.disabled = false;
    }
  });
}

// App page: append new log lines every few seconds.
function setupLogTail() {
  const table = document.querySelector("table.logs[data-tail]");
  if (!table) return;
  const body = table.tBodies[0];
  let after = Number(table.dataset.after || 0);
  async function poll() {
    if (document.hidden) return;
    try {
      const response = await fetch(table.dataset.tail + "?after=" + after, { credentials: "same-origin" });
      if (!response.ok) return;
      const lines = (await response.json()).data || [];
      for (const line of lines) {
        const row = body.insertRow();
        row.className = "lvl-" + line.level;
        row.insertCell().textContent = line.created_at.replace("T", " ").slice(0, 16) + " UTC";
        row.insertCell().textContent = line.level;
        const pre = document.createElement("pre");
        pre.textContent = line.message;
        row.insertCell().appendChild(pre);
        after = Math.max(after, line.id);
      }
      if (lines.length) {
        const empty = document.querySelector(".logs-empty");
        if (empty) empty.remove();
      }
    } catch (err) {
      // the server may be restarting; try again on the next tick
    }
  }
  setInterval(poll, 3000);
}

// Delete forms: the button stays disabled until the name is typed.
function setupTypedConfirm() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    const input = form.querySelector('input[name="confirm"]');
    const button = form.querySelector('button[type="submit"]');
    const check = () => { button.disabled = input.value.trim() !== form.dataset.confirm; };
    input.addEventListener("input", check);
    check();
  }
}

// API keys page: copy the new token.
function setupCopy() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    });
  }
}

// Long actions (a backup, a restore): say what is happening while the form posts, and
// keep the button from being pressed twice. The outcome is the page the post returns.
function setupBusyForms() {
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector('button[type="submit"]');
      const status = document.getElementById(form.dataset.status);
      if (status) status.textContent = form.dataset.busy;
      // After the submit has started: a disabled button would not be sent with it.
      setTimeout(() => { if (button) button.disabled = true; }, 0);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupUpgradeCheck();
  setupLogTail();
  setupTypedConfirm();
  setupCopy();
  setupBusyForms();
});
