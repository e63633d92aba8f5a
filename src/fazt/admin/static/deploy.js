// fazt dashboard: deploy from the browser (the app page's drop zone).
// A folder goes through the incremental API (hash every file, upload the missing ones,
// finalize); a .zip through POST /api/deploy. Both with the session's CSRF token.
// Without this file, the upload form below the drop zone posts a .zip.
"use strict";

(function () {
  const zone = document.getElementById("drop");
  if (!zone) return;
  const app = zone.dataset.app;
  const bar = document.getElementById("deploy-progress");
  const status = document.getElementById("deploy-status");
  const preview = document.getElementById("drop-preview");
  const token = () => document.querySelector('meta[name="csrf-token"]').content;
  let busy = false;
  zone.hidden = false;

  function show(text, fraction) {
    status.textContent = text;
    if (fraction !== undefined) {
      bar.hidden = false;
      bar.value = Math.round(fraction * 100);
    }
  }

  function fail(err) {
    show("Deploy failed: " + (err && err.message ? err.message : err));
    busy = false;
  }

  // One request with upload progress (fetch cannot report it): resolves to the JSON body.
  function send(method, url, body, onProgress, contentType) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRF-Token", token());
      if (contentType) xhr.setRequestHeader("Content-Type", contentType);
      if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded);
      xhr.onload = () => {
        let json = null;
        try { json = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(json ? json.data : null);
        else reject(new Error(json && json.error ? json.error.message : "HTTP " + xhr.status));
      };
      xhr.onerror = () => reject(new Error("the connection failed"));
      xhr.send(body);
    });
  }

  function done(result) {
    status.textContent = "";
    const what = result.live ? "Live at " : "Preview at ";
    status.append(document.createTextNode("Deployed #" + result.deployment_id + ". "));
    if (result.url) {
      const link = document.createElement("a");
      link.href = result.url;
      link.textContent = result.url;
      link.className = "deploy-link";
      link.rel = "noopener";
      status.append(document.createTextNode(what), link);
    }
    bar.value = 100;
    busy = false;
  }

  async function hex(buffer) {
    const digest = await crypto.subtle.digest("SHA-256", buffer);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // files: [{path, file}] relative to the site's root.
  async function deployFolder(files) {
    if (!window.crypto || !crypto.subtle) {
      throw new Error("hashing needs HTTPS (or localhost): upload a .zip below instead");
    }
    const total = files.reduce((n, f) => n + f.file.size, 0) || 1;
    const manifest = [], bySha = new Map();
    let hashed = 0;
    for (const f of files) {
      const sha = await hex(await f.file.arrayBuffer());
      manifest.push({ path: f.path, sha256: sha, size: f.file.size });
      bySha.set(sha, f.file);
      hashed += f.file.size;
      show("Reading files… " + manifest.length + "/" + files.length, 0.2 * hashed / total);
    }
    const started = await send("POST", "/api/apps/" + encodeURIComponent(app) + "/deployments",
      JSON.stringify({ files: manifest }), null, "application/json");
    const missing = started.missing;
    const need = missing.reduce((n, sha) => n + bySha.get(sha).size, 0) || 1;
    let sent = 0;
    for (const [i, sha] of missing.entries()) {
      const file = bySha.get(sha);
      const base = sent;
      await send("PUT", "/api/blobs/" + sha, file,
        (loaded) => show("Uploading " + (i + 1) + "/" + missing.length + "…", 0.2 + 0.75 * (base + loaded) / need));
      sent += file.size;
    }
    show("Publishing…", 0.97);
    return send("POST", "/api/deployments/" + started.deployment_id + "/finalize",
      JSON.stringify({ preview: preview.checked }), null, "application/json");
  }

  async function deployZip(file) {
    const form = new FormData();
    form.append("site_name", app);
    form.append("preview", preview.checked ? "1" : "");
    form.append("file", file);
    return send("POST", "/api/deploy", form, (loaded) => show("Uploading…", 0.95 * loaded / (file.size || 1)));
  }

  // A dropped directory, read recursively (readEntries answers in chunks).
  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ path: prefix + entry.name, file });
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      const chunk = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!chunk.length) break;
      for (const child of chunk) await walk(child, prefix + entry.name + "/", out);
    }
  }

  // The site is what is inside a dropped (or chosen) folder, not the folder itself.
  function stripTop(files) {
    const tops = new Set(files.map((f) => f.path.split("/")[0]));
    const nested = files.every((f) => f.path.includes("/"));
    if (tops.size === 1 && nested) {
      for (const f of files) f.path = f.path.slice(f.path.indexOf("/") + 1);
    }
    return files;
  }

  async function start(files) {
    if (busy || !files.length) return;
    busy = true;
    show("Starting…", 0);
    try {
      const single = files.length === 1 && /\.zip$/i.test(files[0].file.name);
      done(single ? await deployZip(files[0].file) : await deployFolder(stripTop(files)));
    } catch (err) {
      fail(err);
    }
  }

  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entries = Array.from(e.dataTransfer.items || [])
      .map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry())
      .filter(Boolean);
    const files = [];
    try {
      if (entries.length) {
        for (const entry of entries) await walk(entry, "", files);
      } else {
        for (const file of e.dataTransfer.files) files.push({ path: file.name, file });
      }
    } catch (err) {
      fail(err);
      return;
    }
    start(files);
  });
  for (const id of ["pick-folder", "pick-files"]) {
    document.getElementById(id).addEventListener("change", (e) => {
      const files = Array.from(e.target.files, (file) => ({ path: file.webkitRelativePath || file.name, file }));
      start(files);
      e.target.value = "";
    });
  }
})();
