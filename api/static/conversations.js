// The reader's side of the page beyond one answer: the history of their conversations (ids kept in this
// browser, turns read back from the server) and a 👍/👎 with an optional reason under every answer.
// Uses the helpers of app.js (el, $, announce, errorMessage, networkMessage, AnswerView, state, LABELS).
"use strict";

const HISTORY_KEY = "renkei.conversations";
const HISTORY_MAX = 50;

// --- history ---------------------------------------------------------------------------------------
function savedConversations() {
  try {
    const saved = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((item) => item && typeof item.id === "string") : [];
  } catch (_) {
    return [];
  }
}

function saveConversations(items) {
  localStorage.setItem(HISTORY_KEY, JSON.stringify(items.slice(0, HISTORY_MAX)));
}

function rememberConversation(id, title) {
  const items = savedConversations().filter((item) => item.id !== id);
  items.unshift({ id, title: title.slice(0, 80), at: new Date().toISOString() });
  saveConversations(items);
  renderHistory();
}

function forgetConversation(id) {
  saveConversations(savedConversations().filter((item) => item.id !== id));
  renderHistory();
}

function renderHistory() {
  const items = savedConversations();
  $("history-list").replaceChildren(...items.map((item) => {
    const current = item.id === state.conversationId;
    const button = el("button", {
      type: "button", className: "history-item", text: item.title || "（無題）", title: item.title,
      dataset: { conversationId: item.id }, onclick: () => openConversation(item.id),
    });
    if (current) button.setAttribute("aria-current", "true");
    return el("li", {}, button);
  }));
  if (!items.length) $("history-list").append(el("li", { className: "muted", text: "まだ会話はありません。" }));
}

// Show a conversation's turns as the server keeps them (answers without their citation panel: the
// server keeps the answer text, the cited passages are in the admin's feedback view).
async function openConversation(id) {
  if (state.busy) return;
  $("history-message").textContent = "読み込み中…";
  try {
    const response = await fetch(`/api/conversations/${encodeURIComponent(id)}`);
    if (response.status === 404) {
      forgetConversation(id);
      $("history-message").textContent = "この会話はサーバーに残っていないため、履歴から外しました。";
      return;
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    const conversation = await response.json();
    state.conversationId = conversation.conversation_id;
    $("welcome").classList.add("compact");
    const nodes = [];
    for (const turn of conversation.turns) {
      nodes.push(el("li", { className: "message user" }, el("div", { className: "bubble", text: turn.question })));
      const view = new AnswerView();
      view.addDelta(turn.answer);
      view.finish(null, true);
      view.node.classList.add("reopened");
      view.footer.replaceChildren(new FeedbackBar(conversation.conversation_id, turn.turn, [], turn.rating).node);
      nodes.push(view.node);
    }
    $("messages").replaceChildren(...nodes);
    renderHistory();
    $("history-message").textContent = `「${conversation.title}」を開きました（${conversation.turns.length}件のやりとり）。続けて質問できます。`;
    $("message-input").focus();
  } catch (error) {
    $("history-message").textContent = `会話を開けません: ${networkMessage(error)}`;
  }
}

// After an answer has streamed: remember a new conversation and put the rating bar under the answer.
// The turn id comes from the server's copy of the conversation (its last turn is this answer).
async function answerFinished(view, question, isNew) {
  const id = state.conversationId;
  if (isNew) rememberConversation(id, question);
  try {
    const response = await fetch(`/api/conversations/${encodeURIComponent(id)}`);
    if (!response.ok) throw new Error(await errorMessage(response));
    const conversation = await response.json();
    const turn = conversation.turns[conversation.turns.length - 1];
    if (!turn) return;
    const citations = [...view.citations.values()]
      .filter((c) => c.chunk_id)
      .map((c) => ({ document_id: c.document_id, chunk_id: c.chunk_id }));
    view.footer.replaceChildren(new FeedbackBar(id, turn.turn, citations, turn.rating).node);
  } catch (error) {
    view.footer.replaceChildren(el("p", { className: "muted", text: `評価ボタンを表示できません: ${networkMessage(error)}` }));
  }
}

// --- feedback ----------------------------------------------------------------------------------------
const FALLBACK_REASONS = { wrong: "間違い", wrong_source: "出典が違う", outdated: "古い", incomplete: "不足", other: "その他" };
let feedbackSerial = 0;

class FeedbackBar {
  constructor(conversationId, turn, citations, rating) {
    this.conversationId = conversationId;
    this.turn = turn;
    this.citations = citations;
    this.rating = rating || null;
    feedbackSerial += 1;
    const name = `feedback-${feedbackSerial}`;
    // The emoji is decoration; the words are the button's name.
    this.up = el("button", { type: "button", className: "rate up", "aria-pressed": "false", onclick: () => this.rate("up") },
      el("span", { "aria-hidden": "true", text: "👍 " }), "役に立った");
    this.down = el("button", { type: "button", className: "rate down", "aria-pressed": "false", onclick: () => this.rate("down") },
      el("span", { "aria-hidden": "true", text: "👎 " }), "役に立たなかった");
    this.status = el("span", { className: "feedback-status muted", role: "status" });
    const reasons = Object.keys(LABELS.feedback_reasons).length ? LABELS.feedback_reasons : FALLBACK_REASONS;
    this.comment = el("textarea", { id: `${name}-comment`, rows: "2", maxlength: "1000", className: "feedback-comment" });
    this.form = el("form", { className: "feedback-reason", hidden: "" },
      el("fieldset", {},
        el("legend", { text: "よくなかった理由（任意）" }),
        ...Object.entries(reasons).map(([code, text]) => el("label", { className: "reason" },
          el("input", { type: "radio", name: `${name}-reason`, value: code }), ` ${text}`))),
      el("label", { for: `${name}-comment`, text: "ご意見（任意）" }),
      this.comment,
      el("div", { className: "feedback-actions" }, el("button", { type: "submit", className: "feedback-send", text: "理由を送る" })));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.rate("down", true);
    });
    this.node = el("div", { className: "feedback", role: "group", "aria-label": "この回答の評価" },
      el("div", { className: "feedback-buttons" }, this.up, this.down, this.status),
      this.form);
    this.show();
  }

  show() {
    this.up.setAttribute("aria-pressed", String(this.rating === "up"));
    this.down.setAttribute("aria-pressed", String(this.rating === "down"));
  }

  async rate(rating, withReason = false) {
    const body = { conversation_id: this.conversationId, turn: this.turn, rating, citations: this.citations };
    if (withReason) {
      const chosen = this.form.querySelector("input[type=radio]:checked");
      if (chosen) body.reason = chosen.value;
      if (this.comment.value.trim()) body.comment = this.comment.value.trim();
    }
    this.status.textContent = "送信中…";
    try {
      const response = await fetch("/api/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      this.rating = rating;
      this.show();
      if (rating === "down" && !withReason) {
        this.form.hidden = false;
        this.status.textContent = "評価を送りました。よろしければ理由も教えてください。";
        this.form.querySelector("input[type=radio]").focus();
      } else {
        this.form.hidden = true;
        this.status.textContent = withReason ? "理由を送りました。ありがとうございます。" : "評価を送りました。ありがとうございます。";
      }
    } catch (error) {
      this.status.textContent = `評価を送れませんでした: ${networkMessage(error)}`;
    }
  }
}

function startConversations() {
  renderHistory();
}
