// The page: translate with POST /translate, then draw POST /explain's attention maps and trace.
// Plain JavaScript, no build step. Text from the model is always set with textContent.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let lastMaps = null;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function svgElement(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function selectedMode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

// Terms typed on the page: separated by commas (, or ，) or semicolons.
function typedTerms() {
  return $("terms").value.split(/[,，;；]/).map((term) => term.trim()).filter((term) => term);
}

function requestBody(sentence) {
  const mode = selectedMode();
  const body = { sentences: [sentence], alignments: true };
  const prefix = $("prefix").value.trim();
  if (prefix) body.prefixes = [prefix];
  if (typedTerms().length) body.constraints = [typedTerms()];
  if (mode === "greedy") body.beam_size = 1;
  if (mode === "beam") {
    body.beam_size = Number($("beam-size").value);
    body.n_best = Number($("n-best").value);
  }
  if (mode === "sample") {
    body.sample = true;
    body.temperature = Number($("temperature").value);
    body.top_k = Number($("top-k").value);
    body.top_p = Number($("top-p").value);
    body.seed = Number($("seed").value);
  }
  return body;
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({ message: response.statusText }));
  if (!response.ok) throw new Error(payload.message || `HTTP ${response.status}`);
  return payload;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function showTranslation(answer) {
  $("translation").textContent = answer.translations[0];
  const candidates = $("candidates");
  candidates.replaceChildren();
  if (answer.candidates[0].length > 1) {
    for (const candidate of answer.candidates[0]) {
      candidates.append(element("li", `${candidate.text}  (score ${candidate.score.toFixed(3)})`));
    }
  }
  const notes = [];
  if (answer.scores[0] !== null) notes.push(`score ${answer.scores[0].toFixed(3)}`);
  if (answer.truncated[0]) notes.push("the sentence was longer than the model's limit: truncated");
  $("result-note").textContent = notes.join(" · ");
}

// A heatmap as SVG: one cell per weight (darker = more attention), token labels on both axes.
function heatmap(matrix, rowLabels, columnLabels, { cell = 24, title = "" } = {}) {
  const left = 12 + 9 * Math.max(1, ...rowLabels.map((label) => label.length));
  const top = 12 + 7 * Math.max(1, ...columnLabels.map((label) => label.length));
  const width = left + cell * columnLabels.length + 4;
  const height = top + cell * rowLabels.length + 4;
  const svg = svgElement("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  if (title) svg.append(svgElement("title", {}, title));
  columnLabels.forEach((label, j) => {
    const x = left + cell * j + cell / 2;
    svg.append(svgElement("text", {
      x, y: top - 6, transform: `rotate(-60 ${x} ${top - 6})`, class: "column-label",
    }, label));
  });
  rowLabels.forEach((label, i) => {
    svg.append(svgElement("text", {
      x: left - 6, y: top + cell * i + cell * 0.65, "text-anchor": "end", class: "row-label",
    }, label));
  });
  matrix.forEach((row, i) => {
    row.forEach((weight, j) => {
      const rect = svgElement("rect", {
        x: left + cell * j, y: top + cell * i, width: cell - 1, height: cell - 1,
        fill: `rgba(36, 88, 179, ${Math.max(0.03, weight).toFixed(3)})`, class: "cell",
      });
      rect.append(svgElement("title", {}, `${rowLabels[i]} → ${columnLabels[j]}: ${weight.toFixed(3)}`));
      svg.append(rect);
    });
  });
  return svg;
}

// Words as the alignment counts them (decoding/pieces.py): whitespace tokens, each CJK
// character (or CJK punctuation) a word of its own.
const WORD_CHAR = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/u;
function splitWords(text) {
  const words = [];
  let current = "";
  for (const char of text) {
    if (/\s/u.test(char) || WORD_CHAR.test(char)) {
      if (current) words.push(current);
      current = "";
      if (!/\s/u.test(char)) words.push(char);
    } else {
      current += char;
    }
  }
  if (current) words.push(current);
  return words;
}

// The word alignment as lines between source words (top) and target words (bottom); each word
// gets a slot as wide as its text.
function wordCenters(words) {
  const centers = [];
  let x = 10;
  for (const word of words) {
    const width = Math.max(30, 9 * [...word].length + 14);
    centers.push(x + width / 2);
    x += width;
  }
  return { centers, width: x + 10 };
}

function wordAlignment(sourceWords, targetWords, pairs) {
  const top = wordCenters(sourceWords);
  const bottom = wordCenters(targetWords);
  const width = Math.max(top.width, bottom.width);
  const height = 150;
  const svg = svgElement("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.append(svgElement("title", {}, "word alignment"));
  for (const [i, j] of pairs) {
    const line = svgElement("line", {
      x1: top.centers[i], y1: 30, x2: bottom.centers[j], y2: 118, class: "link",
    });
    line.append(svgElement("title", {}, `${i}-${j}: ${sourceWords[i]} → ${targetWords[j]}`));
    svg.append(line);
  }
  sourceWords.forEach((word, i) => {
    svg.append(svgElement("text", { x: top.centers[i], y: 20, class: "source-word" }, word));
  });
  targetWords.forEach((word, j) => {
    svg.append(svgElement("text", { x: bottom.centers[j], y: 138, class: "target-word" }, word));
  });
  return svg;
}

function showWordAlignment(sentence, answer) {
  const best = answer.candidates[0][0];
  const figure = $("word-alignment");
  figure.replaceChildren();
  if (!best || !best.alignment) return;
  const pairs = best.alignment;
  figure.append(wordAlignment(sentence.split(/\s+/u), splitWords(best.text), pairs));
  figure.append(element("p", `Pharaoh: ${answer.alignments[0]}`, "muted pharaoh"));
}

function mapAxes(maps, kind) {
  if (kind === "encoder") return [maps.source_tokens, maps.source_tokens];
  if (kind === "decoder_self") return [maps.target_tokens, maps.target_tokens];
  return [maps.output_tokens, maps.source_tokens];
}

function drawHeads() {
  const maps = lastMaps;
  const kind = $("map-kind").value;
  const layers = maps[kind];
  const layerSelect = $("map-layer");
  if (layerSelect.options.length !== layers.length || layerSelect.dataset.kind !== kind) {
    const previous = Number(layerSelect.value) || 0;
    layerSelect.replaceChildren(...layers.map((_, index) => {
      const option = element("option", String(index + 1));
      option.value = String(index);
      return option;
    }));
    layerSelect.value = String(Math.min(previous, layers.length - 1));
    layerSelect.dataset.kind = kind;
  }
  const layer = Number(layerSelect.value);
  const [rows, columns] = mapAxes(maps, kind);
  const heads = $("heads");
  heads.replaceChildren();
  layers[layer].forEach((matrix, head) => {
    const figure = element("figure");
    figure.append(heatmap(matrix, rows, columns, { cell: 18, title: `layer ${layer + 1} head ${head + 1}` }));
    figure.append(element("figcaption", `layer ${layer + 1}, head ${head + 1}`));
    heads.append(figure);
  });
}

function probabilityCell(choice, chosen) {
  const cell = element("span", `${choice.token} ${(100 * choice.probability).toFixed(1)}%`);
  if (chosen) cell.className = "chosen";
  const bar = element("span", undefined, "bar");
  bar.style.width = `${Math.round(60 * choice.probability)}px`;
  const wrapper = element("div");
  wrapper.append(cell, bar);
  return wrapper;
}

function greedyTable(trace) {
  const table = element("table", undefined, "trace");
  const head = element("tr");
  for (const name of ["step", "decoder input", "top next tokens (probability)", "chosen"]) {
    head.append(element("th", name));
  }
  table.append(head);
  for (const step of trace.steps) {
    const row = element("tr");
    row.append(element("td", String(step.step)), element("td", step.decoder_input.join(" ")));
    const top = element("td");
    for (const choice of step.top) top.append(probabilityCell(choice, choice.token_id === step.chosen.token_id));
    const chosen = element("td", step.chosen.token, "chosen");
    if (step.blocked) {
      const probability = step.blocked.probability.toFixed(2);
      chosen.append(element("div", `${step.blocked.token} (${probability}) blocked: repetition`, "fate-blocked"));
    }
    row.append(top, chosen);
    table.append(row);
  }
  return table;
}

function beamTable(trace) {
  const table = element("table", undefined, "trace");
  const head = element("tr");
  for (const name of ["step", "candidates (log-probability): kept, finished, pruned; blocked repetitions"]) {
    head.append(element("th", name));
  }
  table.append(head);
  for (const step of trace.steps) {
    const row = element("tr");
    const cell = element("td");
    for (const candidate of step.candidates) {
      const score = candidate.score === null ? "" : `, score ${candidate.score.toFixed(3)}`;
      const text = `${candidate.tokens.join(" ")} (${candidate.log_prob.toFixed(3)}${score})`;
      cell.append(element("div", text, `fate-${candidate.fate}`));
    }
    for (const blocked of step.blocked || []) {
      const text = `${[...blocked.beam_tokens, blocked.token].join(" ")} (p ${blocked.probability.toFixed(2)}): blocked repetition`;
      cell.append(element("div", text, "fate-blocked"));
    }
    row.append(element("td", String(step.step)), cell);
    table.append(row);
  }
  return table;
}

function showExplanation(explanation, search) {
  lastMaps = explanation.attention;
  const maps = lastMaps;
  $("alignment").replaceChildren(
    heatmap(maps.alignment, maps.output_tokens, maps.source_tokens, { title: "alignment" })
  );
  drawHeads();
  const trace = explanation.trace;
  $("trace-note").textContent = search === "beam"
    ? `Beam search with ${trace.beam_size} beams: the 2×K best extensions at each step.`
    : "Greedy search: at each step the most probable next token is fed back as input.";
  $("trace").replaceChildren(search === "beam" ? beamTable(trace) : greedyTable(trace));
  $("explain").hidden = false;
}

async function onTranslate(event) {
  event.preventDefault();
  const sentence = $("source").value.trim();
  if (!sentence) return;
  const button = $("translate");
  button.disabled = true;
  showError("");
  try {
    const answer = await postJson("/translate", requestBody(sentence));
    showTranslation(answer);
    showWordAlignment(sentence, answer);
    // The attention maps of the translation shown; the trace of beam search in beam mode, else
    // of greedy search (sampling draws differ run to run; greedy shows the probabilities).
    const search = selectedMode() === "beam" ? "beam" : "greedy";
    const body = {
      sentence, target: answer.translations[0], search, beam_size: Number($("beam-size").value),
    };
    showExplanation(await postJson("/explain", body), search);
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

function showModeOptions() {
  const mode = selectedMode();
  document.querySelector(".beam-option").hidden = mode !== "beam";
  document.querySelector(".sample-option").hidden = mode !== "sample";
}

async function init() {
  $("translate-form").addEventListener("submit", onTranslate);
  $("map-kind").addEventListener("change", drawHeads);
  $("map-layer").addEventListener("change", drawHeads);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", showModeOptions);
  }
  showModeOptions();
  try {
    const health = await (await fetch("/health")).json();
    $("model-name").textContent = `model: ${health.model}`;
  } catch (error) {
    showError(`server not reachable: ${error.message}`);
  }
}

init();
