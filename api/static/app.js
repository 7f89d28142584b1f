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
// Japanese labels of the API's codes (GET /api/labels), defined once on the server.
const LABELS = { file_status: {}, stages: {}, run_status: {}, document_status: {}, doc_types: {}, event_kinds: {}, feedback_reasons: {} };

function label(group, code) {
  return (LABELS[group] && LABELS[group][code]) || code;
}

async function loadLabels() {
  try {
    const response = await fetch("/api/labels");
    if (response.ok) Object.assign(LABELS, await response.json());
  } catch (error) {
    console.warn("labels:", error);
  }
}

// The longest message the server takes (GET /api/limits, the setting RENKEI_MAX_MESSAGE_CHARS).
async function loadLimits() {
  try {
    const response = await fetch("/api/limits");
    if (response.ok) $("message-input").maxLength = (await response.json()).max_message_chars;
  } catch (error) {
    console.warn("limits:", error);
  }
  showCharCount();
}

function showCharCount() {
  const input = $("message-input");
  $("char-count").textContent = input.maxLength > 0 ? `${input.value.length} / ${input.maxLength}` : `${input.value.length}`;
}

// Say something to screen readers once (the visible text may be built up piece by piece).
function announce(text) {
  $("live-status").textContent = text;
}

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

const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

// The API's messages are "日本語 / English": show the Japanese part. A message without Japanese (a
// proxy's page, an unexpected validation text) gets a Japanese lead naming the status.
function japaneseMessage(message, status) {
  if (JAPANESE.test(message)) return message.split(" / ")[0];
  return `エラーが発生しました（HTTP ${status}）${message ? `: ${message}` : ""}`;
}

async function errorMessage(response) {
  let message = "";
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch (_) { /* not JSON */ }
  return japaneseMessage(message, response.status);
}

// fetch() itself fails only when the server cannot be reached.
function networkMessage(error) {
  return error instanceof TypeError ? "通信エラー: サーバーに接続できません。ネットワークを確認してください。" : error.message;
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
    this.footer = el("div", { className: "answer-footer" });
    this.node = el("li", { className: "message assistant streaming", "aria-busy": "true" },
      el("div", { className: "bubble" }, this.body, this.extras, this.sources, this.footer));
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

  finish(data, quiet = false) {
    this.node.classList.remove("streaming");
    this.node.classList.add("done");
    this.node.removeAttribute("aria-busy");
    if (!quiet) announce(`回答: ${this.text.replace(/\[\d+\]/g, "")}`);
    if (data && data.conversation_id) state.conversationId = data.conversation_id;
  }

  fail(message) {
    this.node.classList.remove("streaming");
    this.node.classList.add("error", "done");
    this.node.removeAttribute("aria-busy");
    this.body.replaceChildren(el("p", { className: "error-text", text: message }));
    announce(message);
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
  announce("回答を作成しています…");
  const startedConversation = state.conversationId;
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
    if (!view.node.classList.contains("error") && state.conversationId) {
      await answerFinished(view, message, startedConversation === null);
    }
  } catch (error) {
    view.fail(networkMessage(error));
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

async function openSource(citation, heading = null) {
  const panel = $("source-panel");
  panel.hidden = false;
  $("source-title").textContent = heading ?? `[${citation.n}] ${citation.title}`;
  $("source-meta").textContent = "読み込み中…";
  $("source-text").replaceChildren();
  try {
    const response = await fetch(sourceUrl(citation));
    if (!response.ok) throw new Error(await errorMessage(response));
    const source = await response.json();
    const full = source.before + source.passage + source.after;
    const base = source.start - source.before.length;
    // A citation kept without its snippet (a rated answer's chunk) marks the whole passage.
    const snippet = citation.snippet || source.passage;
    let markStart = (citation.start ?? source.start) - base;
    if (full.slice(markStart, markStart + snippet.length) !== snippet) {
      markStart = full.indexOf(snippet);
    }
    const markEnd = markStart >= 0 ? markStart + snippet.length : -1;
    const passageStart = source.before.length;
    $("source-meta").textContent = [source.section, source.page ? `p.${source.page}` : ""].filter(Boolean).join(" ・ ");
    $("source-text").replaceChildren(...highlighted(full, passageStart, passageStart + source.passage.length, markStart, markEnd));
    const mark = $("source-text").querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  } catch (error) {
    $("source-meta").textContent = `出典を表示できません: ${networkMessage(error)}`;
  }
}

// --- admin ------------------------------------------------------------------------------------------
function adminHeaders() {
  return { Authorization: `Bearer ${$("admin-token").value.trim()}`, "Content-Type": "application/json" };
}

function stageText(progress) {
  return progress.stage ? `${label("stages", progress.stage)} ${progress.done}/${progress.total}` : "";
}

// The run's outcome in Japanese: a failed file is named with its stage; an error the server could only
// describe in English (an exception's text) follows a Japanese lead.
function runErrorText(status) {
  if (!status.error) return "";
  const failed = status.summary ? status.summary.failed : 0;
  if (failed) return ` — 取り込めなかったファイルが${failed}件あります`;
  return ` — 取り込み中にエラーが発生しました（${status.error}）`;
}

function fileProblemText(file) {
  const stage = file.stage ? `${label("stages", file.stage)}の段階で` : "";
  return `${file.document_id || file.path}: ${stage}${label("file_status", file.status)}（${file.reason || "理由不明"}）`;
}

function showAdminStatus(status) {
  const progress = $("admin-progress");
  $("admin-message").textContent = `取り込み ${status.run_id}: ${label("run_status", status.status)} ${stageText(status.progress)}`
    + runErrorText(status);
  progress.hidden = status.status !== "running";
  progress.max = Math.max(1, status.progress.total);
  progress.value = status.progress.done;
  if (!status.summary) return;
  const keys = Object.keys(status.summary);
  const nodes = [table(keys.map((key) => label("file_status", key)), [keys.map((key) => String(status.summary[key]))], "summary-table")];
  const problems = (status.report && status.report.files || []).filter((f) => f.status === "failed");
  if (problems.length) {
    nodes.push(el("ul", { className: "failed-files" }, ...problems.map((f) => el("li", { text: fileProblemText(f) }))));
  }
  $("admin-summary").replaceChildren(...nodes);
}

// Poll an ingest run until it ends; calls show(status) after every poll. Resolves to the final status.
async function followRun(runId, show, interval = 700) {
  for (;;) {
    const status = await adminJson(`/api/admin/ingest/${encodeURIComponent(runId)}`);
    show(status);
    if (status.status !== "running") return status;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
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
    const status = await followRun(started.run_id, showAdminStatus);
    if (status.status === "succeeded") loadDrafts();
  } catch (error) {
    $("admin-message").textContent = networkMessage(error);
  } finally {
    $("admin-run").disabled = false;
  }
}

// --- admin: record drafts ---------------------------------------------------------------------------
const DRAFT_KINDS = { event: "行事", survey: "アンケート", block: "ブロック" };
const FIELD_LABELS = {
  title: "名称", kind: "行事の種別", part: "部", theme: "テーマ", date: "日付", time: "時間", venue: "会場",
  "lecturer.name": "講師（氏名）", "lecturer.title": "講師（役職）", "lecturer.affiliation": "講師（所属）",
  audience: "対象", blocks: "ブロック", wards: "区", participants: "参加者", fiscal_year: "年度",
  status: "状態", note: "備考", name: "名称", responses: "回答数", response_rate: "回答率（%）",
  target: "調査対象", event: "行事", recurrence: "頻度",
};
const LIST_SEPARATOR = /[、,，]/;
const drafts = { items: [] };

async function adminJson(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...adminHeaders(), ...(options.headers || {}) } });
  } catch (error) {
    throw new Error(networkMessage(error));
  }
  if (!response.ok) {
    const error = new Error(await errorMessage(response.clone()));
    error.code = await response.json().then((body) => body?.error?.code, () => undefined);
    throw error;
  }
  return response.json();
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function listText(items) {
  return items.map((item) => (isPlainObject(item) ? Object.values(item).join(" ") : String(item))).join("、");
}

// One row per field of the record a draft would become: context then values, nested objects as
// dotted keys (`lecturer.name`, which the accept endpoint takes as edits). Lists of text are edited as
// "、"-separated text; lists of objects (participants) are shown but not editable here.
function draftFields(draft) {
  const context = Object.fromEntries(Object.entries(draft.context || {}).filter(([key]) => !key.startsWith("_")));
  const fields = [];
  const add = (key, value) => {
    if (value === null || value === undefined) return;
    if (isPlainObject(value)) {
      for (const [sub, inner] of Object.entries(value)) add(`${key}.${sub}`, inner);
    } else if (Array.isArray(value)) {
      const editable = value.every((item) => !isPlainObject(item));
      fields.push({ key, type: "list", text: listText(value), editable });
    } else {
      const shown = key === "kind" ? `${label("event_kinds", value)}（${value}）` : String(value);
      fields.push({ key, type: typeof value === "number" ? "number" : "text", text: String(value), shown, editable: true });
    }
  };
  for (const [key, value] of Object.entries({ ...context, ...draft.values })) add(key, value);
  return fields;
}

function editedValue(field, text) {
  const trimmed = text.trim();
  if (trimmed === "") return "";  // the accept endpoint removes a field set to ""
  if (field.type === "list") return trimmed.split(LIST_SEPARATOR).map((item) => item.trim()).filter(Boolean);
  if (field.type === "number" && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

function draftSource(draft) {
  const [start, end] = draft.span || [];
  const box = el("div", { className: "draft-source" },
    el("p", { className: "muted", text: ["元の文", draft.section].filter(Boolean).join(" ・ ") }),
    el("blockquote", { className: "draft-quote", text: draft.quote, tabindex: "0" }));  // scrolls: reachable by keyboard
  if (draft.document_id && Number.isInteger(start) && Number.isInteger(end) && start < end) {
    const citation = { document_id: draft.document_id, start, end, snippet: draft.quote };
    box.append(el("button", {
      type: "button", className: "source-link draft-source-link", text: "資料の中で見る",
      onclick: () => {
        openSource(citation, `候補 #${draft.id}：${draft.document_id}`);
        $("source-panel").scrollIntoView({ block: "start" });
      },
    }));
  }
  return box;
}

class DraftCard {
  constructor(draft) {
    this.draft = draft;
    this.fields = draftFields(draft);
    this.inputs = new Map();
    this.error = el("p", { className: "error-text draft-error" });
    this.table = el("table", { className: "record-table draft-values" });
    this.actions = el("div", { className: "draft-actions" });
    const meta = [
      el("strong", { text: `#${draft.id} ${DRAFT_KINDS[draft.kind] || draft.kind}` }),
      el("span", { className: "confidence", text: `信頼度 ${Number(draft.confidence).toFixed(2)}` }),
      el("span", { className: "muted", text: draft.document_id }),
    ];
    this.node = el("li", { className: "draft-card", dataset: { draftId: String(draft.id), kind: draft.kind } },
      el("div", { className: "draft-meta" }, ...meta),
      el("div", { className: "draft-body" }, this.table, draftSource(draft)),
      this.error, this.actions);
    this.showValues();
  }

  rows(cell) {
    return this.fields.map((field) =>
      el("tr", {}, el("th", { text: FIELD_LABELS[field.key] || field.key }), el("td", {}, cell(field))));
  }

  showValues() {
    this.inputs.clear();
    this.table.replaceChildren(el("tbody", {}, ...this.rows((field) => field.shown ?? field.text)));
    this.actions.replaceChildren(
      this.button("採用", "accept", () => this.accept({})),
      this.button("編集して採用", "edit secondary", () => this.showEditor()),
      this.button("却下", "reject secondary", () => this.reject()));
  }

  showEditor() {
    this.table.replaceChildren(el("tbody", {}, ...this.rows((field) => {
      if (!field.editable) return field.text;
      const input = el("input", { type: "text", value: field.text, "aria-label": FIELD_LABELS[field.key] || field.key });
      input.dataset.field = field.key;
      this.inputs.set(field.key, input);
      return input;
    })));
    this.actions.replaceChildren(
      this.button("編集内容で採用", "accept-edited", () => this.accept(this.edits())),
      this.button("編集をやめる", "cancel secondary", () => this.showValues()));
  }

  button(text, className, onclick) {
    return el("button", { type: "button", className, text, onclick });
  }

  edits() {
    const edits = {};
    for (const field of this.fields) {
      const input = this.inputs.get(field.key);
      if (input && input.value.trim() !== field.text) edits[field.key] = editedValue(field, input.value);
    }
    return edits;
  }

  async decide(path, body, done, retry = () => false) {
    this.error.textContent = "";
    this.actions.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const result = await adminJson(path, { method: "POST", body: JSON.stringify(body) });
      showDraftsMessage(done(result));
      await loadDrafts();
    } catch (error) {
      this.actions.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      if (retry(error)) return;
      this.error.textContent = networkMessage(error);
    }
  }

  accept(edits, createBlocks = false) {
    const query = createBlocks ? "?create_blocks=true" : "";
    return this.decide(`/api/admin/drafts/${this.draft.id}/accept${query}`, edits,
      (result) => `候補 #${this.draft.id} を採用しました（記録 ${result.record.id}）。`,
      // A draft naming a block the records lack: ask before creating it, then accept again.
      (error) => error.code === "confirm_blocks" && !createBlocks
        && window.confirm(`${error.message}\n\nこのブロックを作成して採用しますか？`)
        && this.accept(edits, true));
  }

  reject() {
    return this.decide(`/api/admin/drafts/${this.draft.id}/reject`, null,
      () => `候補 #${this.draft.id} を却下しました。同じ箇所は再び提案されません。`);
  }
}

function showDraftsMessage(text, details = []) {
  const nodes = [el("p", { text })];
  if (details.length) nodes.push(el("ul", {}, ...details.map((line) => el("li", { text: line }))));
  $("drafts-message").replaceChildren(...nodes);
}

function renderDraftDocuments() {
  const select = $("drafts-document");
  const current = select.value;
  const counts = new Map();
  for (const draft of drafts.items) counts.set(draft.document_id, (counts.get(draft.document_id) || 0) + 1);
  select.replaceChildren(el("option", { value: "", text: `すべての資料（${drafts.items.length}件）` }),
    ...[...counts].map(([id, count]) => el("option", { value: id, text: `${id}（${count}件）` })));
  select.value = counts.has(current) ? current : "";
}

function renderDrafts() {
  const documentId = $("drafts-document").value;
  const shown = drafts.items.filter((draft) => !documentId || draft.document_id === documentId);
  $("draft-list").replaceChildren(...shown.map((draft) => new DraftCard(draft).node));
  if (!drafts.items.length) $("draft-list").append(el("li", { className: "muted", text: "未処理の候補はありません。" }));
}

async function loadDrafts() {
  try {
    const body = await adminJson("/api/admin/drafts?status=pending");
    drafts.items = body.drafts;
    renderDraftDocuments();
    renderDrafts();
  } catch (error) {
    showDraftsMessage(`候補を読み込めません: ${networkMessage(error)}`);
  }
}

function acceptAllThreshold() {
  const value = Number($("accept-all-min").value);
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : null;
}

function updateAcceptAllLabel() {
  const value = acceptAllThreshold();
  $("accept-all").textContent = `信頼度 ${value ?? "?"} 以上をすべて採用`;
  $("accept-all").disabled = value === null;
}

async function acceptAll(event) {
  event.preventDefault();
  const minConfidence = acceptAllThreshold();
  if (minConfidence === null) return;
  $("accept-all").disabled = true;
  try {
    const result = await adminJson("/api/admin/drafts/accept-all", {
      method: "POST", body: JSON.stringify({ min_confidence: minConfidence }),
    });
    const failed = result.failed.map((f) => `#${f.id}: ${f.reason}`);
    const note = failed.length ? `（${failed.length}件は採用できませんでした）` : "";
    showDraftsMessage(`信頼度 ${minConfidence} 以上の候補を${result.counts.accepted}件採用しました${note}。`, failed);
    await loadDrafts();
  } catch (error) {
    showDraftsMessage(networkMessage(error));
  } finally {
    updateAcceptAllLabel();
  }
}

// --- start ------------------------------------------------------------------------------------------
function start() {
  loadLabels();
  loadLimits();
  renderPersonas();
  loadWards();
  startConversations();
  startAdmin();
  const input = $("message-input");
  input.addEventListener("input", showCharCount);
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
    showCharCount();
    ask(message);
  });
  $("new-chat").addEventListener("click", () => {
    state.conversationId = null;
    $("messages").replaceChildren();
    $("welcome").classList.remove("compact");
    renderHistory();
    $("message-input").focus();
  });
  $("source-close").addEventListener("click", () => { $("source-panel").hidden = true; });
  $("admin-toggle").addEventListener("click", () => {
    const view = $("admin-view");
    view.hidden = !view.hidden;
    $("admin-toggle").setAttribute("aria-expanded", String(!view.hidden));
    if (!view.hidden) $("admin-token").focus();
  });
  $("admin-form").addEventListener("submit", runIngest);
  $("drafts-load").addEventListener("click", loadDrafts);
  $("drafts-document").addEventListener("change", renderDrafts);
  $("accept-all-min").addEventListener("input", updateAcceptAllLabel);
  $("accept-all-form").addEventListener("submit", acceptAll);
}

document.addEventListener("DOMContentLoaded", start);
