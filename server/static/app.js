// The drop page: send the chosen images to this server's /api/v1/predict and draw every face found,
// boxed, labelled in words and scored. Plain browser JavaScript, nothing fetched from elsewhere.
"use strict";

const API = "/api/v1";
// The API's six verdicts, in words (README "What a verdict means").
const WORDS = {
  fake: "likely generated",
  unsure: "unsure: not clearly real or generated",
  real: "likely real",
  "too-small": "too small to judge",
  "no-face": "no face found",
  error: "could not be read",
};
let limits = { max_images: 16, max_request_bytes: 64 * 1024 * 1024 };
const objectUrls = [];

const $ = (id) => document.getElementById(id);

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function setStatus(text, problem = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("problem", problem);
}

function pct(p) {
  return p === null || p === undefined ? "" : `${Math.round(p * 100)}%`;
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && body.error) return `${body.error} (HTTP ${resp.status})`;
  } catch (e) {
    /* not JSON: fall through */
  }
  return `the server answered HTTP ${resp.status}`;
}

async function loadModelInfo() {
  try {
    const resp = await fetch(`${API}/model`, { headers: authHeaders() });
    if (resp.status === 401) {
      $("token-box").open = true;
      $("model-info").textContent = "This server needs an access token: enter it below.";
      return;
    }
    if (!resp.ok) throw new Error(await errorText(resp));
    const info = await resp.json();
    limits = info.limits || limits;
    const c = info.contract;
    const band =
      typeof c.unsure_from === "number"
        ? `, "unsure" from ${c.unsure_from.toFixed(3)} up to it, "likely real" below`
        : ', "likely real" below it';
    $("model-info").textContent =
      `Model ${c.model_version || "(unnamed)"}: "likely generated" when p_fake is at least the ` +
      `threshold ${Number(c.threshold).toFixed(3)}${band}; running on the ${info.device}.`;
  } catch (e) {
    $("model-info").textContent = `Could not reach the FaceCheck server: ${e.message}`;
  }
}

// Requests no bigger than the server accepts: at most max_images files and max_request_bytes.
function chunks(files) {
  const out = [];
  let cur = [];
  let bytes = 0;
  const room = limits.max_request_bytes - 64 * 1024; // multipart headers
  for (const f of files) {
    if (cur.length && (cur.length >= limits.max_images || bytes + f.size > room)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(f);
    bytes += f.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

function faceLabel(face, i) {
  const score = face.p_fake === null ? "" : ` ${pct(face.p_fake)}`;
  return `Face ${i + 1}: ${face.verdict}${score}`;
}

function renderResult(file, result) {
  const li = document.createElement("li");
  li.className = `result verdict-${result.verdict}`;
  const title = document.createElement("h3");
  title.textContent = result.filename || file.name;
  li.appendChild(title);

  const verdict = document.createElement("p");
  verdict.className = "verdict";
  const p = result.p_fake;
  verdict.textContent =
    result.verdict === "error"
      ? `Could not be read: ${result.error}`
      : `${WORDS[result.verdict] || result.verdict}${p === null ? "" : ` (p_fake ${p.toFixed(3)})`}`;
  li.appendChild(verdict);

  if (result.verdict !== "error") {
    const frame = document.createElement("div");
    frame.className = "frame";
    const img = document.createElement("img");
    const url = URL.createObjectURL(file);
    objectUrls.push(url);
    img.src = url;
    img.alt = `${file.name}: ${result.faces.length} face(s) found`;
    frame.appendChild(img);
    // Boxes in percent of the upright image the server saw (the browser applies EXIF rotation too).
    const W = result.width;
    const H = result.height;
    result.faces.forEach((face, i) => {
      // A face cut by the picture's edge has a box reaching outside it: draw the visible part.
      const [x, y, w, h] = face.box;
      const x0 = Math.max(0, x);
      const y0 = Math.max(0, y);
      const x1 = Math.min(W, x + w);
      const y1 = Math.min(H, y + h);
      const box = document.createElement("div");
      box.className = `box ${face.verdict}`;
      box.style.left = `${(100 * x0) / W}%`;
      box.style.top = `${(100 * y0) / H}%`;
      box.style.width = `${(100 * Math.max(0, x1 - x0)) / W}%`;
      box.style.height = `${(100 * Math.max(0, y1 - y0)) / H}%`;
      const label = document.createElement("span");
      label.className = "box-label";
      label.textContent = faceLabel(face, i);
      if (y0 < 0.08 * H) {
        label.style.bottom = "auto";
        label.style.top = "0";
      }
      box.appendChild(label);
      frame.appendChild(box);
    });
    li.appendChild(frame);

    if (result.faces.length) {
      const list = document.createElement("ul");
      list.className = "faces";
      result.faces.forEach((face, i) => {
        const item = document.createElement("li");
        const detail = face.p_fake === null ? "" : `, p_fake ${face.p_fake.toFixed(3)}`;
        item.textContent = `Face ${i + 1}: ${WORDS[face.verdict] || face.verdict}${detail}`;
        list.appendChild(item);
      });
      li.appendChild(list);
    }
  }
  return li;
}

async function check(fileList) {
  const files = Array.from(fileList);
  if (!files.length) return;
  const results = $("results");
  $("clear").hidden = false;
  let done = 0;
  let failed = 0;
  for (const group of chunks(files)) {
    setStatus(`Checking ${done + 1}-${done + group.length} of ${files.length} image(s)...`);
    const form = new FormData();
    for (const f of group) form.append("image", f, f.name);
    try {
      const resp = await fetch(`${API}/predict`, { method: "POST", body: form, headers: authHeaders() });
      if (resp.status === 401) $("token-box").open = true;
      if (!resp.ok) throw new Error(await errorText(resp));
      const body = await resp.json();
      body.results.forEach((r, i) => results.appendChild(renderResult(group[i], r)));
    } catch (e) {
      failed += group.length;
      for (const f of group) {
        results.appendChild(renderResult(f, { filename: f.name, verdict: "error", error: e.message }));
      }
    }
    done += group.length;
  }
  const fakes = results.querySelectorAll(".result.verdict-fake").length;
  const unsure = results.querySelectorAll(".result.verdict-unsure").length;
  setStatus(
    `Checked ${files.length} image(s)` +
      (failed ? `; ${failed} could not be sent` : "") +
      `. ${fakes} result(s) on this page look generated, ${unsure} unsure.`,
    failed > 0,
  );
}

function setup() {
  const drop = $("drop");
  $("files").addEventListener("change", (e) => {
    check(e.target.files).finally(() => {
      e.target.value = "";
    });
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    check(e.dataTransfer.files);
  });
  $("clear").addEventListener("click", () => {
    $("results").replaceChildren();
    objectUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    $("clear").hidden = true;
    setStatus("");
  });
  $("token").addEventListener("change", loadModelInfo);
  loadModelInfo();
}

setup();
