// @ts-check
// The drop page's "Why?" toggle: asks this server's /api/v1/explain for a picture's evidence maps
// (facecheck/explain.py, docs/explain.md) and lays each face's map over the square the model
// judged (red: hiding that part lowers the probability that the face is generated; blue: it looks
// real). Loaded before app.js, which puts a toggle under every picture with a judged face.
"use strict";

/**
 * A face of /api/v1/explain's answer, as far as this file reads it:
 * @typedef {object} ExplainedFace
 * @property {number[]} [crop]  [x, y, side, side]: the square judged, in the picture's pixels
 * @property {string | null} [heat_png]  its map, a base64 RGBA PNG to stretch over `crop`
 */

/** One face's map over its square, placed in percent of the picture (as the boxes are).
 * @param {ExplainedFace} face
 * @param {number} W  the picture's width
 * @param {number} H  its height
 * @returns {HTMLImageElement} */
function heatLayer(face, W, H) {
  const [x, y, side] = /** @type {number[]} */ (face.crop);
  const img = document.createElement("img");
  img.className = "heat";
  img.alt = ""; // the words stay in the labels; the map is a picture of them
  img.src = `data:image/png;base64,${face.heat_png}`;
  Object.assign(img.style, {
    position: "absolute", left: `${(100 * x) / W}%`, top: `${(100 * y) / H}%`,
    width: `${(100 * side) / W}%`, height: `${(100 * side) / H}%`, maxWidth: "none",
    pointerEvents: "none",
  });
  return img;
}

/** The maps of one picture's faces, from the server.
 * @param {File} file
 * @param {Record<string, string>} headers  the page's token header, if any
 * @param {number} W
 * @param {number} H
 * @returns {Promise<HTMLImageElement[]>} */
async function fetchHeatLayers(file, headers, W, H) {
  const url = `/api/v1/explain?filename=${encodeURIComponent(file.name)}`;
  const type = file.type || "application/octet-stream";
  const resp = await fetch(url, { method: "POST", body: file, headers: { ...headers, "Content-Type": type } });
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
  const result = body.results[0];
  if (result.error) throw new Error(result.error);
  /** @type {ExplainedFace[]} */
  const faces = result.faces || [];
  return faces.filter((f) => f.heat_png && f.crop).map((f) => heatLayer(f, W, H));
}

/** A "Why?" button that shows or hides the picture's evidence maps (asked for once).
 * @param {File} file
 * @param {HTMLElement} frame  the picture's frame (renderFrame), where the maps go
 * @param {number} W
 * @param {number} H
 * @param {() => Record<string, string>} headers
 * @returns {HTMLParagraphElement} */
function whyToggle(file, frame, W, H, headers) {
  const line = document.createElement("p");
  line.className = "why";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Why?";
  button.setAttribute("aria-pressed", "false");
  const note = document.createElement("span");
  note.setAttribute("role", "status");
  line.append(button, " ", note);
  /** @type {HTMLImageElement[] | null} */
  let layers = null;
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    if (on && !layers) {
      note.textContent = "Asking the server where the model sees traces of generation\u2026";
      try {
        layers = await fetchHeatLayers(file, headers(), W, H);
        frame.append(...layers);
      } catch (e) {
        button.setAttribute("aria-pressed", "false");
        note.textContent = `No map: ${e instanceof Error ? e.message : String(e)}`;
        return;
      }
    }
    (layers || []).forEach((layer) => { layer.hidden = !on; });
    note.textContent = on ? "Red: parts that look generated to the model; blue: parts that look real." : "";
  });
  return line;
}

/** @type {any} */ (globalThis).FaceCheckWhy = { whyToggle };
