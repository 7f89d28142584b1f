// The admin's loop beyond "run ingest": upload a document and watch its ingest stage by stage, list and
// filter the documents, move one to the trash and back, and read what the documents lack (refused
// questions and 👎 answers grouped by similar question) with a CSV export.
// Uses the helpers of app.js (el, $, adminJson, adminHeaders, errorMessage, networkMessage, followRun,
// label, table, openSource, loadDrafts, renderDrafts, showAdminStatus) and conversations.js (openConversation).
"use strict";

const documentsState = { items: [] };

// --- upload ------------------------------------------------------------------------------------------
function showUploadProgress(status, seen) {
  const stage = status.progress.stage;
  if (stage && !seen.includes(stage)) seen.push(stage);
  $("upload-stages").replaceChildren(...seen.map((name) => {
    const current = name === stage && status.status === "running";
    const text = current ? `${label("stages", name)}（${status.progress.done}/${status.progress.total}）` : `${label("stages", name)} ✓`;
    return el("li", { className: current ? "current" : "done", text });
  }));
  const progress = $("upload-progress");
  progress.hidden = status.status !== "running";
  progress.max = Math.max(1, status.progress.total);
  progress.value = status.progress.done;
  showAdminStatus(status);
}

function uploadResult(status, documentId) {
  const file = ((status.report && status.report.files) || []).find((f) => f.document_id === documentId);
  if (!file) return el("p", { className: "error-text", text: `${documentId} の結果が取り込みの報告にありません。` });
  const ok = file.status === "added" || file.status === "updated" || file.status === "unchanged";
  const text = ok
    ? `${documentId}: ${label("file_status", file.status)}（チャンク ${file.chunks}件）`
    : fileProblemText(file);
  const nodes = [el("p", { className: ok ? "upload-ok" : "error-text", text })];
  if (ok) {
    nodes.push(el("button", {
      type: "button", id: "review-upload", className: "secondary", text: "この資料から提案された記録の候補を確認する",
      onclick: () => reviewDraftsOf(documentId),
    }));
  }
  return el("div", { className: "upload-file-result" }, ...nodes);
}

async function reviewDraftsOf(documentId) {
  await loadDrafts();
  const select = $("drafts-document");
  if (![...select.options].some((option) => option.value === documentId)) {
    showDraftsMessage(`${documentId} から提案された未処理の候補はありません。`);
    return;
  }
  select.value = documentId;
  renderDrafts();
  $("drafts").scrollIntoView({ block: "start" });
  $("drafts-heading").focus();
}

async function uploadDocument(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) {
    $("upload-message").textContent = "アップロードするファイルを選んでください。";
    return;
  }
  $("upload-submit").disabled = true;
  $("upload-result").replaceChildren();
  $("upload-stages").replaceChildren();
  $("upload-message").textContent = `${file.name} を送信しています…`;
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    let response;
    try {
      // No Content-Type header: the browser writes the multipart boundary itself.
      response = await fetch("/api/admin/documents", { method: "POST", headers: { Authorization: adminHeaders().Authorization }, body: form });
    } catch (error) {
      throw new Error(networkMessage(error));
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    const uploaded = await response.json();
    $("upload-message").textContent = `${uploaded.document_id} を保存しました。取り込んでいます…`;
    const seen = [];
    const status = await followRun(uploaded.run_id, (s) => showUploadProgress(s, seen), 300);
    $("upload-message").textContent = `${uploaded.document_id} の取り込み: ${label("run_status", status.status)}`;
    $("upload-result").replaceChildren(uploadResult(status, uploaded.document_id));
    $("upload-file").value = "";
    await loadDocuments();
  } catch (error) {
    $("upload-message").textContent = `アップロードできませんでした: ${error.message}`;
  } finally {
    $("upload-submit").disabled = false;
  }
}

// --- the document list -------------------------------------------------------------------------------
function documentActions(doc) {
  const box = el("div", { className: "document-actions" });
  if (doc.status === "deleted") {
    box.append(el("button", {
      type: "button", className: "secondary restore", text: "元に戻す", "aria-label": `${doc.document_id} を元に戻す`,
      onclick: () => restoreDocument(doc),
    }));
    return box;
  }
  const ask = el("button", {
    type: "button", className: "secondary delete", text: "削除", "aria-label": `${doc.document_id} を削除`,
    onclick: () => confirmDelete(doc, box),
  });
  box.append(ask);
  return box;
}

// Deleting asks in place (no browser dialog): confirm, optionally also removing accepted records.
function confirmDelete(doc, box) {
  const records = el("input", { type: "checkbox", className: "remove-records" });
  const confirm = el("button", {
    type: "button", className: "danger confirm-delete", text: "ごみ箱へ移す",
    onclick: () => deleteDocument(doc, records.checked),
  });
  const cancel = el("button", { type: "button", className: "secondary", text: "やめる", onclick: () => box.replaceWith(documentActions(doc)) });
  box.replaceChildren(
    el("span", { text: "ごみ箱へ移しますか？" }),
    el("label", {}, records, " 採用済みの記録も削除"),
    confirm, cancel);
  confirm.focus();
}

async function deleteDocument(doc, removeRecords) {
  try {
    const query = removeRecords ? "?remove_records=true" : "";
    const path = doc.document_id.split("/").map(encodeURIComponent).join("/");
    const result = await adminJson(`/api/admin/documents/${path}${query}`, { method: "DELETE" });
    $("documents-message").textContent = `${doc.document_id} をごみ箱へ移しました（チャンク ${result.chunks_removed}件・候補 ${result.drafts_removed}件・記録 ${result.records_removed}件を削除）。`;
    await loadDocuments(false);
  } catch (error) {
    $("documents-message").textContent = `削除できませんでした: ${error.message}`;
  }
}

async function restoreDocument(doc) {
  try {
    const restored = await adminJson(`/api/admin/documents/trash/${encodeURIComponent(doc.trash_id)}/restore`, { method: "POST" });
    $("documents-message").textContent = `${restored.document_id} を元に戻しました。取り込んでいます…`;
    const status = await followRun(restored.run_id, showAdminStatus);
    $("documents-message").textContent = `${restored.document_id} を元に戻しました（取り込み: ${label("run_status", status.status)}）。`;
    await loadDocuments(false);
  } catch (error) {
    $("documents-message").textContent = `元に戻せませんでした: ${error.message}`;
  }
}

function documentRow(doc) {
  const title = el("td", {}, el("span", { className: "document-title", text: doc.title }),
    el("br"), el("span", { className: "muted", text: doc.document_id }));
  for (const error of doc.errors) {
    const stage = error.stage ? `（${label("stages", error.stage)}の段階）` : "";
    title.append(el("p", { className: "error-text", text: `取り込みに失敗しました${stage}: ${error.reason}` }));
  }
  const when = doc.status === "deleted" ? doc.deleted_at : doc.last_ingest;
  return el("tr", { dataset: { documentId: doc.document_id, status: doc.status } },
    title,
    el("td", { text: doc.doc_type ? label("doc_types", doc.doc_type) : "" }),
    el("td", { text: doc.fiscal_year ? `${doc.fiscal_year}年度` : "" }),
    el("td", { text: String(doc.chunks) }),
    el("td", { text: doc.pages ? String(doc.pages) : "" }),
    el("td", { text: when ? when.replace("T", " ").slice(0, 16) : "" }),
    el("td", { className: `status ${doc.status}`, text: label("document_status", doc.status) }),
    el("td", { text: doc.pending_drafts ? `${doc.pending_drafts}件` : "" }),
    el("td", {}, documentActions(doc)));
}

function renderDocuments() {
  const status = $("documents-status").value;
  const words = $("documents-filter").value.trim().toLowerCase();
  const shown = documentsState.items.filter((doc) => (!status || doc.status === status)
    && (!words || `${doc.title} ${doc.document_id}`.toLowerCase().includes(words)));
  $("documents-body").replaceChildren(...shown.map(documentRow));
  $("documents-table").hidden = false;
  if (!shown.length) {
    $("documents-body").append(el("tr", {}, el("td", { colspan: "9", className: "muted", text: "条件に合う資料はありません。" })));
  }
}

function renderStatusOptions() {
  const select = $("documents-status");
  const current = select.value;
  const counts = new Map();
  for (const doc of documentsState.items) counts.set(doc.status, (counts.get(doc.status) || 0) + 1);
  select.replaceChildren(el("option", { value: "", text: `すべて（${documentsState.items.length}件）` }),
    ...Object.keys(LABELS.document_status).map((code) => el("option", { value: code, text: `${label("document_status", code)}（${counts.get(code) || 0}件）` })));
  select.value = current;
}

async function loadDocuments(announceCount = true) {
  try {
    const body = await adminJson("/api/admin/documents");
    documentsState.items = body.documents;
    renderStatusOptions();
    renderDocuments();
    if (announceCount) $("documents-message").textContent = `資料 ${body.count}件`;
  } catch (error) {
    $("documents-message").textContent = `資料の一覧を読み込めません: ${error.message}`;
  }
}

// --- content gaps and quality ------------------------------------------------------------------------
function gapItem(item) {
  const facts = [item.kind_label, item.reason_label, item.created_at.replace("T", " ").slice(0, 16)].filter(Boolean).join(" ・ ");
  const node = el("li", { className: `gap-item ${item.kind}` },
    el("p", { className: "muted", text: facts }),
    el("p", { className: "gap-question", text: `質問: ${item.question}` }));
  if (item.comment) node.append(el("p", { className: "gap-comment", text: `ご意見: ${item.comment}` }));
  node.append(el("details", {}, el("summary", { text: "回答を見る" }), el("p", { className: "gap-answer", text: item.answer })));
  const actions = el("div", { className: "gap-actions" }, el("button", {
    type: "button", className: "secondary open-conversation", text: "会話を開く",
    onclick: () => { openConversation(item.conversation_id); $("messages").scrollIntoView({ block: "start" }); },
  }));
  item.citations.forEach((citation, index) => {
    actions.append(el("button", {
      type: "button", className: "source-link open-cited", text: `引用された箇所 ${index + 1}: ${citation.document_id}`,
      onclick: () => openSource({ document_id: citation.document_id, chunk_id: citation.chunk_id }, `引用された箇所：${citation.document_id}`),
    }));
  });
  node.append(actions);
  return node;
}

function gapGroup(group) {
  const counts = [`${group.count}件`, group.refusals ? `回答できず ${group.refusals}件` : "", group.downs ? `役に立たなかった ${group.downs}件` : ""]
    .filter(Boolean).join("・");
  return el("li", { className: "gap-group" },
    el("h3", { text: group.question }),
    el("p", { className: "muted", text: `${counts} ・ 最終 ${group.last_seen.replace("T", " ").slice(0, 16)}` }),
    el("ol", { className: "gap-items" }, ...group.items.map(gapItem)));
}

async function loadQuality() {
  try {
    const view = await adminJson("/api/admin/feedback");
    const totals = view.totals;
    $("quality-totals").textContent = `役に立った ${totals.up}件 ・ 役に立たなかった ${totals.down}件 ・ 回答できなかった質問 ${totals.refused}件（似た質問ごとに ${view.groups.length}グループ）`;
    $("gap-list").replaceChildren(...view.groups.map(gapGroup));
  } catch (error) {
    $("quality-totals").textContent = `読み込めません: ${error.message}`;
  }
}

// The CSV needs the token, so it is fetched here and handed to the browser as a file.
async function downloadFeedbackCsv() {
  try {
    let response;
    try {
      response = await fetch("/api/admin/feedback.csv", { headers: { Authorization: adminHeaders().Authorization } });
    } catch (error) {
      throw new Error(networkMessage(error));
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `renkei-feedback-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $("quality-totals").textContent = "CSV をダウンロードしました。";
  } catch (error) {
    $("quality-totals").textContent = `CSV をダウンロードできません: ${error.message}`;
  }
}

function startAdmin() {
  $("upload-form").addEventListener("submit", uploadDocument);
  $("documents-load").addEventListener("click", () => loadDocuments());
  $("documents-status").addEventListener("change", renderDocuments);
  $("documents-filter").addEventListener("input", renderDocuments);
  $("quality-load").addEventListener("click", loadQuality);
  $("feedback-csv").addEventListener("click", downloadFeedbackCsv);
}
