// @ts-check
// The drop page: send the chosen images to this server's /api/v1/predict and draw every face found,
// boxed, labelled in words and scored. Plain browser JavaScript, nothing fetched from elsewhere.
"use strict";

/**
 * The API's answers (server/openapi.py), as far as this page reads them:
 * @typedef {object} ApiFace
 * @property {number[]} box  [x, y, w, h] in the upright image's pixels
 * @property {number | null} p_fake  null: too small to judge
 * @property {string} verdict
 *
 * @typedef {object} ApiResult  one image's result
 * @property {string} [filename]
 * @property {string} verdict
 * @property {number | null} [p_fake]
 * @property {ApiFace[]} [faces]
 * @property {number} [width]  the upright image's size (absent in errors)
 * @property {number} [height]
 * @property {string} [error]  why the image could not be read
 *
 * @typedef {{max_images: number, max_request_bytes: number}} Limits
 * @typedef {{model_version?: string, threshold: number, unsure_from?: number | null}} ApiContract
 * @typedef {{limits?: Limits, contract: ApiContract, device: string}} ModelInfo  GET /api/v1/model
 */

const API = "/api/v1";
// The API's six verdicts, in words (README "What a verdict means").
/** @type {Record<string, string>} */
const WORDS = {
  fake: "likely generated",
  unsure: "unsure: not clearly real or generated",
  real: "likely real",
  "too-small": "too small to judge",
  "no-face": "no face found",
  error: "could not be read",
};
/** @type {Limits} */
let limits = { max_images: 16, max_request_bytes: 64 * 1024 * 1024 };
/** @type {string[]} */
const objectUrls = [];

/** An element of index.html, which has them all.
 * @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const tokenInput = /** @type {HTMLInputElement} */ ($("token"));
const tokenBox = /** @type {HTMLDetailsElement} */ ($("token-box"));

/** @returns {Record<string, string>} */
function authHeaders() {
  const token = tokenInput.value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** @param {string} text
 * @param {boolean} [problem] */
function setStatus(text, problem = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("problem", problem);
}

/** @param {number | null | undefined} p */
function pct(p) {
  return p === null || p === undefined ? "" : `${Math.round(p * 100)}%`;
}

/** @param {Response} resp
 * @returns {Promise<string>} */
async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && body.error) return `${body.error} (HTTP ${resp.status})`;
  } catch {
    /* not JSON: fall through */
  }
  return `the server answered HTTP ${resp.status}`;
}

async function loadModelInfo() {
  try {
    const resp = await fetch(`${API}/model`, { headers: authHeaders() });
    if (resp.status === 401) {
      tokenBox.open = true;
      $("model-info").textContent = "This server needs an access token: enter it below.";
      return;
    }
    if (!resp.ok) throw new Error(await errorText(resp));
    /** @type {ModelInfo} */
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
    $("model-info").textContent = `Could not reach the FaceCheck server: ${e instanceof Error ? e.message : e}`;
  }
}

/** Requests no bigger than the server accepts: at most max_images files and max_request_bytes.
 * @param {File[]} files
 * @returns {File[][]} */
function chunks(files) {
  const out = [];
  /** @type {File[]} */
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

/** @param {ApiFace} face
 * @param {number} i */
function faceLabel(face, i) {
  const score = face.p_fake === null ? "" : ` ${pct(face.p_fake)}`;
  return `Face ${i + 1}: ${face.verdict}${score}`;
}

/** The picture with a box round every face, labelled.
 * @param {File} file
 * @param {ApiResult} result  a judged result (not an error), which has the image's size
 * @param {ApiFace[]} faces
 * @returns {HTMLDivElement} */
function renderFrame(file, result, faces) {
  const frame = document.createElement("div");
  frame.className = "frame";
  const img = document.createElement("img");
  const url = URL.createObjectURL(file);
  objectUrls.push(url);
  img.src = url;
  img.alt = `${file.name}: ${faces.length} face(s) found`;
  frame.appendChild(img);
  // Boxes in percent of the upright image the server saw (the browser applies EXIF rotation too).
  const W = /** @type {number} */ (result.width);
  const H = /** @type {number} */ (result.height);
  faces.forEach((face, i) => {
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
  return frame;
}

/** One image's result, as a list item.
 * @param {File} file
 * @param {ApiResult} result
 * @returns {HTMLLIElement} */
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
      : `${WORDS[result.verdict] || result.verdict}${p == null ? "" : ` (p_fake ${p.toFixed(3)})`}`;
  li.appendChild(verdict);

  const faces = result.faces || [];
  if (result.verdict !== "error") {
    li.appendChild(renderFrame(file, result, faces));
    if (faces.length) {
      const list = document.createElement("ul");
      list.className = "faces";
      faces.forEach((face, i) => {
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

/** Send the files, a request per chunk, and show each result as it comes.
 * @param {FileList | null | undefined} fileList */
async function check(fileList) {
  const files = Array.from(fileList || []);
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
      if (resp.status === 401) tokenBox.open = true;
      if (!resp.ok) throw new Error(await errorText(resp));
      /** @type {{results: ApiResult[]}} */
      const body = await resp.json();
      body.results.forEach((r, i) => results.appendChild(renderResult(group[i], r)));
    } catch (e) {
      failed += group.length;
      const error = e instanceof Error ? e.message : String(e);
      for (const f of group) {
        results.appendChild(renderResult(f, { filename: f.name, verdict: "error", error }));
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
  const input = /** @type {HTMLInputElement} */ ($("files"));
  input.addEventListener("change", () => {
    check(input.files).finally(() => {
      input.value = "";
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
    check(e.dataTransfer && e.dataTransfer.files);
  });
  $("clear").addEventListener("click", () => {
    $("results").replaceChildren();
    objectUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    $("clear").hidden = true;
    setStatus("");
  });
  tokenInput.addEventListener("change", loadModelInfo);
  loadModelInfo();
}

setup();
