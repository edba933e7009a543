// @ts-check
// The drop page: send the chosen images to this server's /api/v1/predict and draw every face found,
// boxed and labelled in the words of every FaceCheck front end (extension/src/settings.js, loaded
// first). Plain browser JavaScript, nothing fetched from elsewhere.
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
 * @property {string} [error]  why the image could not be judged (verdict error or too-small)
 * @property {ApiProvenance} [provenance]  where the picture says it came from (never the verdict)
 * @property {boolean} [sendFailed]  this page's own mark: the request itself failed
 *
 * @typedef {object} ApiProvenance  C2PA Content Credentials or an XMP source type (docs/provenance.md)
 * @property {string} kind  ai-generated, ai-edited, captured, invalid or none
 * @property {string} detail  the claim, who made and signed it, and what it cannot prove
 * @property {boolean} signed  a C2PA signature (false: XMP, which anyone can write)
 * @property {boolean} trusted  the signer is on a trust list
 *
 * @typedef {{max_images: number, max_request_bytes: number}} Limits
 * @typedef {{model_version?: string, threshold: number, unsure_from?: number | null}} ApiContract
 * @typedef {{limits?: Limits, contract: ApiContract, device: string}} ModelInfo  GET /api/v1/model
 *
 * @typedef {{threshold: number, unsureFrom: number | null}} Band  the server model's, in force here
 * @typedef {{threshold?: number | null, unsureFrom?: number | null, modelVersion?: string}}
 *   TechnicalFigures  as settings.js technicalLines() takes them (the figures this page has)
 */

const API = "/api/v1";

/**
 * The extension's wording module, extension/src/settings.js, served at /static/settings.js: a
 * result reads the same here, in the CLI (facecheck/wording.py) and in the extension.
 * @typedef {object} Wording
 * @property {Readonly<Record<string, string>>} HEADLINES  verdict -> words, in the API's order
 * @property {string} SCOPE  what a verdict means and cannot know
 * @property {(verdict: string, p?: number | null) => string} headline  "Likely generated, 68%"
 * @property {(p: number | null | undefined, band?: Band | null) => string} probabilityText
 *   "Probability generated: 29%", and given the band what it means below the threshold
 * @property {(t: TechnicalFigures) => string[]} technicalLines  threshold, band and model, in words
 * @property {(x: number) => string} rulePercent  a threshold or band edge: "85.25%"
 * @property {Readonly<Record<string, string>>} ICONS  verdict -> its icon, beside the words
 * @property {(p: ApiProvenance) => string} provenanceText  "Content Credentials: camera capture"
 *   ("" when the picture claims nothing)
 * @property {(p: ApiProvenance) => string} provenanceDetail  the detail as a sentence
 */
const Words = /** @type {Wording} */ (/** @type {any} */ (globalThis).FaceCheckSettings);
/** The "Why?" toggle's module, server/static/why.js (loaded before this file).
 * @type {{whyToggle: (file: File, frame: HTMLElement, W: number, H: number,
 *   headers: () => Record<string, string>) => HTMLElement}} */
const Why = /** @type {any} */ (globalThis).FaceCheckWhy;
// Beside the words, never instead of them: a shape per verdict, so colour is not the only cue.
/** @type {Record<string, string>} */
const ICONS = Words.ICONS;
/** @type {Limits} */
let limits = { max_images: 16, max_request_bytes: 64 * 1024 * 1024 };
/** @type {string[]} */
const objectUrls = [];
/** The server model's threshold, band and name, once GET /api/v1/model answered: the probability
 * lines say what a number below the threshold means, and the technical details show the band.
 * @type {(Band & {modelVersion: string}) | null} */
let serverModel = null;
/** The model info request in flight (a check waits for it, so its words know the band). */
let modelAsked = Promise.resolve();

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
    serverModel = { threshold: Number(c.threshold), modelVersion: c.model_version || "",
      unsureFrom: typeof c.unsure_from === "number" ? c.unsure_from : null };
    const h = Words.HEADLINES;
    const band =
      typeof c.unsure_from === "number"
        ? `, "${h.unsure}" from ${Words.rulePercent(c.unsure_from)} up to it, "${h.real}" below`
        : `, "${h.real}" below it`;
    $("model-info").textContent =
      `Model ${c.model_version || "(unnamed)"}: "${h.fake}" when the probability is at least the ` +
      `threshold ${Words.rulePercent(Number(c.threshold))} probability generated${band}; ` +
      `running on the ${info.device}.`;
  } catch (e) {
    $("model-info").textContent = `Could not ask the server about its model: ${requestProblem(e)}`;
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

/** A face's words: "Face 2: Likely generated, 68%".
 * @param {ApiFace} face
 * @param {number} i  its place, counted from the left */
function faceLabel(face, i) {
  return `Face ${i + 1}: ${Words.headline(face.verdict, face.p_fake)}`;
}

/** Faces numbered as a reader sees them: from left to right.
 * @param {ApiResult} result
 * @returns {ApiFace[]} */
function facesLeftToRight(result) {
  return [...(result.faces || [])].sort((a, b) => a.box[0] - b.box[0]);
}

/** A box round one face, in percent of the upright image the server saw (the browser applies
 * EXIF rotation too), labelled in words.
 * @param {ApiFace} face
 * @param {number} i
 * @param {number} W  the image's width
 * @param {number} H  its height
 * @returns {HTMLDivElement} */
function renderBox(face, i, W, H) {
  // A face cut by the picture's edge has a box reaching outside it: draw the visible part.
  const [x, y, w, h] = face.box;
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const box = document.createElement("div");
  box.className = `box ${face.verdict}`;
  box.style.left = `${(100 * x0) / W}%`;
  box.style.top = `${(100 * y0) / H}%`;
  box.style.width = `${(100 * Math.max(0, Math.min(W, x + w) - x0)) / W}%`;
  box.style.height = `${(100 * Math.max(0, Math.min(H, y + h) - y0)) / H}%`;
  const label = document.createElement("span");
  label.className = "box-label";
  label.append(icon(face.verdict), textElement("span", "words", faceLabel(face, i)));
  if (y0 < 0.08 * H) {
    label.style.bottom = "auto";
    label.style.top = "0";
  }
  box.appendChild(label);
  return box;
}

/** The picture with a box round every face.
 * @param {File} file
 * @param {ApiResult} result  a result with the image's size
 * @param {ApiFace[]} faces  left to right
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
  const W = /** @type {number} */ (result.width);
  const H = /** @type {number} */ (result.height);
  faces.forEach((face, i) => frame.appendChild(renderBox(face, i, W, H)));
  return frame;
}

/** Where the picture says it came from, beside the verdict and never part of it: "Content
 * Credentials: made with an AI tool" and the detail (claim generator, signer, trust), or the
 * nothing-found words, which say that this proves nothing about the face.
 * @param {ApiProvenance} p
 * @returns {HTMLDivElement} */
function renderProvenance(p) {
  const box = document.createElement("div");
  box.className = `provenance provenance-${p.kind}`;
  // The same words as the extension's badges (settings.js provenanceText, provenanceDetail).
  const line = Words.provenanceText(p);
  if (line) box.appendChild(textElement("p", "provenance-line", line));
  box.appendChild(textElement("p", "provenance-detail", Words.provenanceDetail(p)));
  return box;
}

/** A verdict's shape, hidden from screen readers (the words say it).
 * @param {string} verdict */
function icon(verdict) {
  const span = document.createElement("span");
  span.className = "icon";
  span.setAttribute("aria-hidden", "true");
  span.textContent = ICONS[verdict] || ICONS.error;
  return span;
}

/** @param {string} tag
 * @param {string} className
 * @param {string} text */
function textElement(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = text;
  return el;
}

/** The faces as a list: "Face 1: Likely real. Probability generated: 12%".
 * @param {ApiFace[]} faces  left to right */
function renderFaceList(faces) {
  const list = document.createElement("ul");
  list.className = "faces";
  faces.forEach((face, i) => {
    const detail = Words.probabilityText(face.p_fake, serverModel);
    list.appendChild(textElement("li", "", faceLabel(face, i) + (detail ? `. ${detail}` : "")));
  });
  return list;
}

/** One image's result, as a list item: its name, the headline, the probability or the reason,
 * and the picture with its faces.
 * @param {File} file
 * @param {ApiResult} result
 * @returns {HTMLLIElement} */
function renderResult(file, result) {
  const li = document.createElement("li");
  li.className = `result verdict-${result.verdict}`;
  li.appendChild(textElement("h3", "", result.filename || file.name));
  const verdict = document.createElement("p");
  verdict.className = "verdict";
  verdict.append(icon(result.verdict), textElement("span", "words", Words.headline(result.verdict, result.p_fake)));
  li.appendChild(verdict);
  const detail = result.error || Words.probabilityText(result.p_fake, serverModel);
  if (detail) li.appendChild(textElement("p", "detail", detail));
  if (result.provenance) li.appendChild(renderProvenance(result.provenance));
  const faces = facesLeftToRight(result);
  if (typeof result.width === "number" && typeof result.height === "number") {
    const frame = renderFrame(file, result, faces);
    li.appendChild(frame);
    // "Why?": the faces' evidence maps, asked for on demand (why.js, POST /api/v1/explain).
    if (faces.some((f) => f.p_fake !== null)) {
      li.appendChild(Why.whyToggle(file, frame, result.width, result.height, authHeaders));
    }
  }
  if (faces.length) li.appendChild(renderFaceList(faces));
  if (typeof result.p_fake === "number" && serverModel) li.appendChild(technicalDetails(serverModel));
  return li;
}

/** "Technical details" of a judged result: the threshold, the unsure band and the model, in the
 * lines the extension's badges and popup show (settings.js technicalLines).
 * @param {Band & {modelVersion: string}} m
 * @returns {HTMLDetailsElement} */
function technicalDetails(m) {
  const details = document.createElement("details");
  details.className = "technical";
  details.appendChild(textElement("summary", "", "Technical details"));
  for (const line of Words.technicalLines(m)) details.appendChild(textElement("p", "", line));
  return details;
}

/** What a failed request means, in words.
 * @param {unknown} e */
function requestProblem(e) {
  // fetch() rejects with a TypeError ("Failed to fetch") when nothing answers.
  if (e instanceof TypeError) return "the FaceCheck server did not answer (is it still running?)";
  return e instanceof Error ? e.message : String(e);
}

/** One request's results, or an error result per file when the request failed.
 * @param {File[]} group
 * @returns {Promise<ApiResult[]>} */
async function predictGroup(group) {
  const form = new FormData();
  for (const f of group) form.append("image", f, f.name);
  try {
    const resp = await fetch(`${API}/predict`, { method: "POST", body: form, headers: authHeaders() });
    if (resp.status === 401) tokenBox.open = true;
    if (!resp.ok) throw new Error(await errorText(resp));
    /** @type {{results: ApiResult[]}} */
    const body = await resp.json();
    return body.results;
  } catch (e) {
    const error = requestProblem(e);
    return group.map((f) => ({ filename: f.name, verdict: "error", error, sendFailed: true }));
  }
}

/** The line the status region announces once a check is done: the result itself for one
 * picture, else how many got each result (in the words of every front end).
 * @param {ApiResult[]} results */
function summaryText(results) {
  if (results.length === 1) {
    const r = results[0];
    return `Checked ${r.filename || "the image"}: ${Words.headline(r.verdict, r.p_fake)}.`;
  }
  const counts = Object.keys(Words.HEADLINES)
    .map((v) => [Words.HEADLINES[v], results.filter((r) => r.verdict === v).length])
    .filter(([, n]) => n)
    .map(([words, n]) => `${words}: ${n}`);
  return `Checked ${results.length} images. ${counts.join(", ")}.`;
}

/** Send the files, a request per chunk, and show each result as it comes.
 * @param {FileList | null | undefined} fileList */
async function check(fileList) {
  const files = Array.from(fileList || []);
  if (!files.length) return;
  const list = $("results");
  $("clear").hidden = false;
  list.setAttribute("aria-busy", "true");
  await modelAsked; // so that the words know the model's band
  /** @type {ApiResult[]} */
  const all = [];
  for (const group of chunks(files)) {
    setStatus(`Checking ${all.length + 1}-${all.length + group.length} of ${files.length} image(s)...`);
    const results = await predictGroup(group);
    results.forEach((r, i) => list.appendChild(renderResult(group[i], r)));
    all.push(...results);
  }
  list.removeAttribute("aria-busy");
  const failed = all.filter((r) => r.sendFailed).length;
  setStatus(summaryText(all) + (failed ? ` ${failed} could not be sent.` : ""), failed > 0);
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
    setStatus("Results cleared.");
    input.focus(); // the focused button is gone: back to where a new check starts
  });
  tokenInput.addEventListener("change", () => {
    modelAsked = loadModelInfo();
  });
  $("scope").textContent = Words.SCOPE;
  modelAsked = loadModelInfo();
}

setup();
