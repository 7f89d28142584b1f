// renkei chat page. No framework, no build step. All text goes into the page through
// textContent / DOM nodes only (never innerHTML), so text from documents can never become markup.
"use strict";

const WARD_KEY = "renkei.ward";
const SVG_NS = "http://www.w3.org/2000/svg";

const PERSONAS = [
  {
    name: "新任コーディネーター",
    questions: [
      "新任のコーディネーターは採用されたらまず何をしてもらえますか",
      "9か月後くらいには何がありますか",
      "新任コーディネーター向けの説明は何月何日にありましたか",
    ],
  },
  {
    name: "区担当者",
    questions: [
      "説明会でACPの取組みを報告した区はどこ？",
      "令和4年度に相談支援室はどんな取組みをしていましたか",
      "私の区のブロック研修はいつですか",
    ],
  },
  {
    name: "スタッフ",
    questions: [
      "北ブロックの研修会の講師は？",
      "多職種研修会の目的は何ですか",
      "研修会のアンケート結果を教えてください",
    ],
  },
];

const state = { conversationId: null, busy: false };

// --- small DOM helpers -----------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

const $ = (id) => document.getElementById(id);

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `エラーが発生しました（HTTP ${response.status}）`;
}

// --- ward selector and as-of date ------------------------------------------------------------------
async function loadWards() {
  const select = $("ward-select");
  const saved = localStorage.getItem(WARD_KEY) || "";
  try {
    const response = await fetch("/api/records/wards");
    if (!response.ok) throw new Error(await errorMessage(response));
    const body = await response.json();
    for (const ward of body.items) {
      const label = ward.block ? `${ward.name}（${ward.block}）` : ward.name;
      select.append(el("option", { value: ward.name, text: label }));
    }
  } catch (error) {
    console.warn("wards:", error);
  }
  if ([...select.options].some((option) => option.value === saved)) select.value = saved;
  select.addEventListener("change", () => localStorage.setItem(WARD_KEY, select.value));
}

// --- suggestions -----------------------------------------------------------------------------------
function renderPersonas() {
  const tabs = $("persona-tabs");
  PERSONAS.forEach((persona, index) => {
    const tab = el("button", {
      type: "button", role: "tab", className: "persona-tab", text: persona.name,
      onclick: () => selectPersona(index),
    });
    tabs.append(tab);
  });
  selectPersona(0);
}

function selectPersona(index) {
  [...$("persona-tabs").children].forEach((tab, i) => tab.setAttribute("aria-selected", String(i === index)));
  const box = $("suggestions");
  box.replaceChildren(...PERSONAS[index].questions.map((question) =>
    el("button", { type: "button", className: "suggestion", text: question, onclick: () => ask(question) })));
}

// --- chat ------------------------------------------------------------------------------------------
function chatRequest(message) {
  const request = { message };
  const ward = $("ward-select").value;
  const asOf = $("as-of").value;
  if (ward) request.ward = ward;
  if (asOf) request.as_of = asOf;
  if (state.conversationId) request.conversation_id = state.conversationId;
  return request;
}

// Parse a text/event-stream body incrementally; calls onEvent(name, data) for each event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

class AnswerView {
  constructor() {
    this.text = "";
    this.citations = new Map();
    this.deltas = 0;
    this.body = el("div", { className: "answer-text" });
    this.sources = el("ol", { className: "citation-list" });
    this.extras = el("div", { className: "records" });
    this.node = el("li", { className: "message assistant streaming" },
      el("div", { className: "bubble" }, this.body, this.extras, this.sources));
  }

  addDelta(text) {
    this.text += text;
    this.deltas += 1;
    this.node.dataset.deltas = String(this.deltas);
    this.renderText();
  }

  renderText() {
    // Split on [n] markers: text stays text; a marker becomes a button once its citation is known.
    const parts = this.text.split(/(\[\d+\])/);
    const nodes = parts.filter((part) => part !== "").map((part) => {
      const match = /^\[(\d+)\]$/.exec(part);
      if (!match) return document.createTextNode(part);
      const citation = this.citations.get(Number(match[1]));
      if (!citation) return el("span", { className: "cite pending", text: part });
      return el("button", {
        type: "button", className: "cite", text: part, title: citation.title,
        dataset: { n: match[1] }, onclick: () => openSource(citation),
      });
    });
    this.body.replaceChildren(...nodes);
  }

  setCitations(citations) {
    for (const citation of citations) this.citations.set(citation.n, citation);
    this.renderText();
    this.sources.replaceChildren(...citations.map((citation) => {
      const where = [citation.section, citation.page ? `p.${citation.page}` : ""].filter(Boolean).join(" ・ ");
      return el("li", {},
        el("button", {
          type: "button", className: "source-link", dataset: { n: String(citation.n) },
          onclick: () => openSource(citation),
        }, `[${citation.n}] ${citation.title}`),
        where ? el("span", { className: "muted" }, ` ${where}`) : null);
    }));
  }

  setRecords(records) {
    this.extras.replaceChildren(...renderRecords(records));
  }

  finish(data) {
    this.node.classList.remove("streaming");
    this.node.classList.add("done");
    if (data && data.conversation_id) state.conversationId = data.conversation_id;
  }

  fail(message) {
    this.node.classList.remove("streaming");
    this.node.classList.add("error", "done");
    this.body.replaceChildren(el("p", { className: "error-text", text: message }));
  }
}

async function ask(message) {
  message = message.trim();
  if (!message || state.busy) return;
  state.busy = true;
  $("send").disabled = true;
  $("welcome").classList.add("compact");
  const messages = $("messages");
  messages.append(el("li", { className: "message user" }, el("div", { className: "bubble", text: message })));
  const view = new AnswerView();
  messages.append(view.node);
  view.node.scrollIntoView({ block: "end" });
  try {
    const response = await fetch("/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(chatRequest(message)),
    });
    if (!response.ok) {
      view.fail(await errorMessage(response));
      return;
    }
    await readEvents(response, (name, data) => {
      if (name === "delta") view.addDelta(data.text || "");
      else if (name === "citations") view.setCitations(data || []);
      else if (name === "records") view.setRecords(data || []);
      else if (name === "done") view.finish(data);
      else if (name === "error") view.fail(data.message || "エラーが発生しました");
    });
    if (!view.node.classList.contains("done")) view.finish(null);
  } catch (error) {
    view.fail(`通信エラー: ${error.message}`);
  } finally {
    state.busy = false;
    $("send").disabled = false;
    view.node.scrollIntoView({ block: "end" });
  }
}

// --- records: tables and survey charts ---------------------------------------------------------------
const WEEKDAYS = "日月火水木金土";

function formatDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-").map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${y}年${m}月${d}日（${weekday}）`;
}

function eventRow(record) {
  const time = [record.start_time, record.end_time].filter(Boolean).join("～");
  const lecturer = record.lecturer
    ? [record.lecturer.name, record.lecturer.title, record.lecturer.affiliation].filter(Boolean).join(" ")
    : "";
  const who = [...(record.blocks || []), ...(record.wards || [])].join("・");
  const title = record.part ? `${record.title}（${record.part}）` : record.title;
  return [record.kind_label || record.kind, title, formatDate(record.date) || record.recurrence || "", time,
    record.venue || "", lecturer, who];
}

const GENERIC_FIELDS = {
  block: [["名称", "name"], ["区", (r) => (r.wards || []).join("・")]],
  ward: [["区", "name"], ["ブロック", "block"]],
  finding: [["区", "ward"], ["主体", "subject_label"], ["分類", "category_label"], ["時期", "period"], ["内容", "text"]],
  onboarding_step: [["時期", "timing"], ["内容", "description"], ["日付", (r) => formatDate(r.date)]],
  support_activity: [["対象", "target_label"], ["内容", "title"], ["期間", "period"], ["区の数", "wards_count"]],
};

function table(headers, rows, className) {
  return el("table", { className },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", { text: cell ?? "" }))))));
}

function renderRecords(records) {
  const nodes = [];
  const events = records.filter((r) => r.type === "event");
  if (events.length) {
    nodes.push(table(["種別", "名称", "日付", "時間", "会場", "講師", "対象"], events.map(eventRow), "record-table events"));
  }
  for (const [type, fields] of Object.entries(GENERIC_FIELDS)) {
    const items = records.filter((r) => r.type === type);
    if (!items.length) continue;
    const rows = items.map((r) => fields.map(([, key]) => {
      const value = typeof key === "function" ? key(r) : r[key];
      return value === null || value === undefined ? "" : String(value);
    }));
    nodes.push(table(fields.map(([label]) => label), rows, `record-table ${type}`));
  }
  for (const survey of records.filter((r) => r.type === "survey")) nodes.push(renderSurvey(survey));
  return nodes;
}

function renderSurvey(survey) {
  const facts = [];
  if (survey.responses != null) facts.push(`回答 ${survey.responses}件`);
  if (survey.response_rate != null) facts.push(`回答率 ${survey.response_rate}%`);
  const box = el("figure", { className: "survey" },
    el("figcaption", {}, el("strong", { text: survey.title }), facts.length ? ` （${facts.join("・")}）` : ""));
  for (const question of survey.questions || []) {
    const options = (question.options || []).filter((option) => Number.isFinite(option.count));
    if (!options.length) continue;
    box.append(el("p", { className: "survey-question", text: question.text }), barChart(options));
  }
  return box;
}

function barChart(options) {
  const labelWidth = 170, barWidth = 220, row = 24, width = labelWidth + barWidth + 50;
  const max = Math.max(1, ...options.map((o) => o.count));
  const chart = svg("svg", {
    class: "bar-chart", width, height: options.length * row + 4, viewBox: `0 0 ${width} ${options.length * row + 4}`,
    role: "img",
  });
  chart.append(svg("title", {}, options.map((o) => `${o.label}: ${o.count}`).join(" / ")));
  options.forEach((option, i) => {
    const y = i * row + 2;
    const label = option.label.length > 13 ? `${option.label.slice(0, 12)}…` : option.label;
    const text = svg("text", { x: labelWidth - 6, y: y + 16, "text-anchor": "end", class: "bar-label" }, label);
    text.append(svg("title", {}, option.label));
    const length = Math.max(1, Math.round((option.count / max) * barWidth));
    chart.append(text,
      svg("rect", { x: labelWidth, y: y + 3, width: length, height: row - 8, rx: 3, class: "bar" }),
      svg("text", { x: labelWidth + length + 6, y: y + 16, class: "bar-value" }, String(option.count)));
  });
  return chart;
}

// --- the source panel ------------------------------------------------------------------------------
function sourceUrl(citation) {
  const path = citation.document_id.split("/").map(encodeURIComponent).join("/");
  const query = citation.chunk_id
    ? `chunk=${encodeURIComponent(citation.chunk_id)}`
    : `start=${citation.start}&end=${citation.end}`;
  return `/api/sources/${path}?${query}`;
}

// Text nodes for `full`, with [passageStart, passageEnd) in a span and [markStart, markEnd) in <mark>.
function highlighted(full, passageStart, passageEnd, markStart, markEnd) {
  const cuts = [...new Set([0, passageStart, passageEnd, markStart, markEnd, full.length])]
    .filter((cut) => cut >= 0 && cut <= full.length).sort((a, b) => a - b);
  const nodes = [];
  for (let i = 0; i + 1 < cuts.length; i += 1) {
    const [from, to] = [cuts[i], cuts[i + 1]];
    if (from === to) continue;
    const text = full.slice(from, to);
    let node = document.createTextNode(text);
    if (from >= markStart && to <= markEnd) node = el("mark", {}, node);
    if (from >= passageStart && to <= passageEnd) node = el("span", { className: "passage" }, node);
    nodes.push(node);
  }
  return nodes;
}

async function openSource(citation) {
  const panel = $("source-panel");
  panel.hidden = false;
  $("source-title").textContent = `[${citation.n}] ${citation.title}`;
  $("source-meta").textContent = "読み込み中…";
  $("source-text").replaceChildren();
  try {
    const response = await fetch(sourceUrl(citation));
    if (!response.ok) throw new Error(await errorMessage(response));
    const source = await response.json();
    const full = source.before + source.passage + source.after;
    const base = source.start - source.before.length;
    let markStart = citation.start - base;
    if (full.slice(markStart, markStart + citation.snippet.length) !== citation.snippet) {
      markStart = full.indexOf(citation.snippet);
    }
    const markEnd = markStart >= 0 ? markStart + citation.snippet.length : -1;
    const passageStart = source.before.length;
    $("source-meta").textContent = [source.section, source.page ? `p.${source.page}` : ""].filter(Boolean).join(" ・ ");
    $("source-text").replaceChildren(...highlighted(full, passageStart, passageStart + source.passage.length, markStart, markEnd));
    const mark = $("source-text").querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  } catch (error) {
    $("source-meta").textContent = `出典を表示できません: ${error.message}`;
  }
}

// --- admin ------------------------------------------------------------------------------------------
function adminHeaders() {
  return { Authorization: `Bearer ${$("admin-token").value.trim()}`, "Content-Type": "application/json" };
}

function showAdminStatus(status) {
  const progress = $("admin-progress");
  const stage = status.progress.stage ? `${status.progress.stage} ${status.progress.done}/${status.progress.total}` : "";
  const labels = { running: "実行中", succeeded: "完了", failed: "失敗" };
  $("admin-message").textContent = `取り込み ${status.run_id}: ${labels[status.status] || status.status} ${stage}`
    + (status.error ? ` — ${status.error}` : "");
  progress.hidden = status.status !== "running";
  progress.max = Math.max(1, status.progress.total);
  progress.value = status.progress.done;
  if (!status.summary) return;
  const keys = Object.keys(status.summary);
  const nodes = [table(keys, [keys.map((key) => String(status.summary[key]))], "summary-table")];
  const problems = (status.report && status.report.files || []).filter((f) => f.status === "failed");
  if (problems.length) {
    nodes.push(el("ul", { className: "failed-files" },
      ...problems.map((f) => el("li", { text: `${f.path}: ${f.reason || ""}` }))));
  }
  $("admin-summary").replaceChildren(...nodes);
}

async function runIngest(event) {
  event.preventDefault();
  $("admin-run").disabled = true;
  $("admin-summary").replaceChildren();
  try {
    const response = await fetch("/api/admin/ingest", {
      method: "POST", headers: adminHeaders(), body: JSON.stringify({ full: $("admin-full").checked }),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const started = await response.json();
    for (;;) {
      const poll = await fetch(`/api/admin/ingest/${encodeURIComponent(started.run_id)}`, { headers: adminHeaders() });
      if (!poll.ok) throw new Error(await errorMessage(poll));
      const status = await poll.json();
      showAdminStatus(status);
      if (status.status !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  } catch (error) {
    $("admin-message").textContent = error.message;
  } finally {
    $("admin-run").disabled = false;
  }
}

// --- start ------------------------------------------------------------------------------------------
function start() {
  renderPersonas();
  loadWards();
  const input = $("message-input");
  input.addEventListener("input", () => { $("char-count").textContent = `${input.value.length} / 2000`; });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = input.value;
    input.value = "";
    $("char-count").textContent = "0 / 2000";
    ask(message);
  });
  $("new-chat").addEventListener("click", () => {
    state.conversationId = null;
    $("messages").replaceChildren();
    $("welcome").classList.remove("compact");
  });
  $("source-close").addEventListener("click", () => { $("source-panel").hidden = true; });
  $("admin-toggle").addEventListener("click", () => { $("admin-view").hidden = !$("admin-view").hidden; });
  $("admin-form").addEventListener("submit", runIngest);
}

document.addEventListener("DOMContentLoaded", start);
