// paperchat page: a thin client of the HTTP API (/api/ask/stream, /api/papers). Corpus text is only ever
// inserted as text nodes (never innerHTML), so titles and abstracts holding HTML or Markdown stay inert.
"use strict";

const EXAMPLES = [
  "Which papers study length generalization in transformers?",
  "What did Omid Saremi co-author?",
  "How does classifier-free guidance relate to predictor-corrector methods?",
  "Is trace length a useful uncertainty signal for reasoning models?",
];
const SNIPPET_CHARS = 360;
const MAX_AUTHORS = 6;
const MAX_HISTORY_TURNS = 20; // the API takes up to 100 messages; older turns add little to a follow-up
const PAGE_SIZE = 20;
const PHONE = window.matchMedia("(max-width: 700px)");
// Words too common to be worth highlighting in a snippet.
const STOPWORDS = new Set(("a an and are as at be by can do does did for from has have how in into is it its " +
  "of on or that the their them these this those to was were what when where which who whom why with about " +
  "paper papers study studies studied work works any all some other more most than then there also not no " +
  "use used using show shows me tell give list find between relate relates related").split(" "));

const $ = (sel) => document.querySelector(sel);

/** An element with attributes and children; strings become text nodes (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {  // nested lists of children (a list of [separator, node] pairs) too
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replace a node's children; null/false children are skipped like in `el`. */
function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat(Infinity)) {  // nested lists of children (a list of [separator, node] pairs) too
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const squash = (s) => String(s || "").replace(/\s+/g, " ").trim();

// -- API -------------------------------------------------------------------------------------------

async function getJSON(url) {
  const r = await fetch(url);
  let body = null;
  try { body = await r.json(); } catch { /* not JSON: reported below */ }
  if (!r.ok) throw new Error((body && body.error) || `the server answered ${r.status}`);
  return body;
}

const paperCache = new Map();
function getPaper(id) {
  if (!paperCache.has(id)) {
    const p = getJSON(`/api/papers/${encodeURIComponent(id)}`);
    p.catch(() => paperCache.delete(id)); // a failed lookup is retried next time
    paperCache.set(id, p);
  }
  return paperCache.get(id);
}

/** Server-sent events from a fetch response: yields [event, data] pairs as they arrive. */
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield [event, JSON.parse(data)];
    }
  }
}

// -- shared display rules ------------------------------------------------------------------------------

function authorsText(authors, truncated) {
  if (!authors || !authors.length) return "authors not listed";
  const shown = authors.slice(0, MAX_AUTHORS);
  return shown.join(", ") + (truncated || authors.length > shown.length ? " et al." : "");
}

function dateText(paper) {
  return (paper && (paper.date_text || paper.date)) || "date not recorded";
}

function arxivLink(id) {
  if (!id) return null;
  const href = "https://arxiv.org/abs/" + encodeURIComponent(id).replace(/%2F/g, "/");
  return el("a", { class: "pc-arxiv", href, target: "_blank", rel: "noopener noreferrer" }, `arXiv:${id}`);
}

/** Words of the question worth highlighting in a snippet. */
function queryTerms(question) {
  const words = (question || "").toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}-]*/gu) || [];
  return [...new Set(words.filter((w) => w.length >= 3 && !STOPWORDS.has(w)))];
}

/** Text with the query's words (and words starting with them) wrapped in <mark>. */
function highlighted(text, terms) {
  if (!terms.length) return [text];
  const esc = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${esc.join("|")})[\\p{L}\\p{N}]*`, "giu");
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(last, m.index), el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** The snippet as shown: "…" wherever it does not reach the start or end of the abstract, or is cut. */
function snippetText(snippet, abstract) {
  let s = squash(snippet || abstract);
  const a = squash(abstract);
  const at = a.indexOf(s);
  let lead = at > 0, trail = at >= 0 && at + s.length < a.length;
  if (at < 0) { // quoted sentences from different places of the abstract
    lead = !a.startsWith(s.slice(0, 40));
    trail = !a.endsWith(s.slice(-40));
  }
  if (s.length > SNIPPET_CHARS) {
    s = s.slice(0, SNIPPET_CHARS).replace(/\s+\S*$/, "");
    trail = true;
  }
  return (lead ? "… " : "") + s + (trail ? " …" : "");
}

function citationText(c) {
  return `[${c.n}] ${c.title} — ${authorsText(c.authors, c.authors_truncated)}` + (c.url ? `. ${c.url}` : "");
}

// -- source cards ---------------------------------------------------------------------------------

function sourceCard(c, id, terms, { numbered }) {
  const date = el("span", { class: "pc-date" }, "…");
  const card = el("li", { class: "pc-source", id, tabindex: "-1", "data-paper-id": c.paper_id },
    el("div", { class: "pc-title" },
      numbered ? el("span", { class: "pc-n" }, `[${c.n}] `) : null,
      c.title,
      c.title_derived ? el("span", { class: "pc-derived" }, " (title derived from the abstract)") : null),
    el("div", { class: "pc-meta" },
      el("span", { class: "pc-authors" }, authorsText(c.authors, c.authors_truncated)), " · ", date,
      c.arxiv_id ? [" · ", arxivLink(c.arxiv_id)] : null),
    el("blockquote", { class: "pc-snippet" }, highlighted(snippetText(c.snippet, c.abstract), terms)),
    el("details", { class: "pc-abstract" }, el("summary", {}, "Full abstract"), el("p", {}, c.abstract)),
    el("button", { type: "button", class: "link-btn pc-about", onclick: () => setScope(c.paper_id, c.title) },
      "Ask about this paper"));
  getPaper(c.paper_id).then((p) => { date.textContent = dateText(p); }, () => { date.textContent = ""; });
  return card;
}

function highlightCard(card) {
  document.querySelectorAll(".pc-source.pc-hl").forEach((x) => x.classList.remove("pc-hl"));
  card.classList.add("pc-hl");
  // A card taller than most of the window (abstract open) is shown from its top, under the header.
  const tall = card.offsetHeight > window.innerHeight * 0.6;
  card.scrollIntoView({ block: tall ? "start" : "center", behavior: "smooth" });
  card.focus({ preventScroll: true });
}

// -- one answer in the chat ------------------------------------------------------------------------

let answerCount = 0;

class AnswerView {
  constructor(question, scope) {
    this.id = `a${++answerCount}`;
    this.question = question;
    this.terms = queryTerms(question);
    this.text = el("div", { class: "pc-text" });
    this.progress = el("div", { class: "pc-progress", role: "status" }, "Searching the papers…");
    this.extra = el("div", { class: "pc-extra" });
    this.sources = el("section", { class: "pc-sources", id: `${this.id}-sources`, "aria-label": "Sources" });
    this.node = el("article", { class: "msg bot", id: this.id, "data-testid": "bot", "data-state": "searching" },
      this.progress, this.text, this.extra, this.sources);
    this.user = el("div", { class: "msg user", "data-testid": "user" }, question,
      scope ? el("div", { class: "pc-about-tag" }, `about: ${scope.title}`) : null);
    this.started = performance.now();
  }

  setState(state, progress) {
    this.node.dataset.state = state;
    if (progress) this.progress.textContent = progress;
    this.progress.hidden = !progress;
  }

  /** Answer text with each [n] a link to card n of this answer. */
  renderText(raw) {
    const paragraphs = String(raw).split(/\n\s*\n/).filter((p) => p.trim());
    fill(this.text, ...paragraphs.map((p) => {
      const lines = p.split("\n");
      if (lines.every((l) => /^\s*[-*•]\s+/.test(l))) {
        return el("ul", {}, lines.map((l) => el("li", {}, this.inline(l.replace(/^\s*[-*•]\s+/, "")))));
      }
      return el("p", {}, lines.flatMap((l, i) => (i ? [el("br"), ...this.inline(l)] : this.inline(l))));
    }));
  }

  inline(line) {
    const link = (n, label) => el("a", {
      class: "cite", href: `#${this.id}-s${n}`, "aria-label": `source ${n}`,
      onclick: (e) => {
        e.preventDefault();
        const card = document.getElementById(`${this.id}-s${n}`);
        if (card) highlightCard(card);
      },
    }, label);
    const out = [];
    let last = 0;
    for (const m of line.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
      out.push(line.slice(last, m.index));
      const nums = m[1].split(",").map((n) => n.trim());
      if (nums.length === 1) out.push(link(nums[0], `[${nums[0]}]`));
      else out.push("[", ...nums.flatMap((n, i) => (i ? [", ", link(n, n)] : [link(n, n)])), "]");
      last = m.index + m[0].length;
    }
    out.push(line.slice(last));
    return out;
  }

  showSources(cites, { heading, note, numbered }) {
    const items = cites.map((c, i) => sourceCard(c, numbered ? `${this.id}-s${c.n}` : `${this.id}-r${i + 1}`,
      this.terms, { numbered }));
    fill(this.sources,
      el("h3", {}, heading, numbered && cites.length ? ` (${cites.length})` : ""),
      note ? el("p", { class: "pc-note" }, note) : null,
      items.length ? el("ol", { class: "pc-list" }, items) : null);
  }

  provisional(sources) {
    if (!sources.length) return;
    this.showSources(sources, { heading: "Sources found", note: "The answer is being written from these papers.", numbered: true });
  }

  delta(draft) {
    this.setState("streaming", "Writing the answer…");
    this.renderText(draft);
  }

  final(answer) {
    this.answer = answer;
    this.terms = queryTerms(answer.standalone_question || this.question);
    this.setState("done", null);
    this.renderText(answer.answer);
    if (answer.citations.length) {
      this.showSources(answer.citations, { heading: "Sources", numbered: true });
    } else if (answer.refused) {
      this.showSources(answer.related, {
        heading: "Related reading",
        note: answer.related.length ? "The corpus does not answer this; these papers are the closest." : "No related papers found.",
        numbered: false,
      });
    } else {
      fill(this.sources, el("p", { class: "pc-note" }, "No sources were cited."));
    }
    const secs = answer.timings_ms && answer.timings_ms.total;
    const copy = el("button", { type: "button", class: "link-btn pc-copy", onclick: () => this.copy(copy) }, "Copy");
    fill(this.extra,
      answer.standalone_question && squash(answer.standalone_question) !== squash(this.question)
        ? el("div", { class: "pc-searched" }, "searched for: ", el("q", {}, answer.standalone_question)) : null,
      answer.missing && answer.missing.length
        ? el("div", { class: "pc-missing" }, "Missing: ", answer.missing.map((m, i) => [i ? ", " : "", el("s", {}, m)])) : null,
      ...answer.warnings.map((w) => el("div", { class: "pc-warning" }, "⚠ " + w)),
      el("div", { class: "pc-status" },
        el("span", { class: `pc-mode-tag pc-${answer.mode}` }, answer.mode === "llm" ? "LLM answer" : "extractive answer"),
        answer.refused ? el("span", { class: "pc-refused" }, "not answered by the corpus") : null,
        secs !== undefined ? el("span", {}, `${(secs / 1000).toFixed(1)} s`) : null,
        copy,
        this.sources.childElementCount ? el("a", { class: "pc-jump", href: `#${this.sources.id}` }, "Sources ↓") : null));
  }

  fail(message) {
    this.setState("error", null);
    fill(this.text, el("p", { class: "pc-error" }, "⚠ " + message));
  }

  /** Plain text for the clipboard: the answer as written, then its sources. */
  copyText() {
    const a = this.answer;
    const cites = a.citations.length ? a.citations : [];
    const lines = [a.answer.trim()];
    if (a.missing && a.missing.length) lines.push("", "Missing: " + a.missing.join(", "));
    if (cites.length) lines.push("", "Sources:", ...cites.map(citationText));
    return lines.join("\n");
  }

  async copy(button) {
    const text = this.copyText();
    try {
      await navigator.clipboard.writeText(text);
    } catch { // no clipboard permission: the old way still works on a user click
      const area = el("textarea", { class: "visually-hidden" });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied ✓";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  }
}

// -- the chat ---------------------------------------------------------------------------------------

const chat = {
  busy: false,
  turns: [],
  scope: null, // {id, title}: "Ask about this paper"
};

function notice(text) {
  const n = $("#pc-notice");
  n.textContent = text || "";
  n.hidden = !text;
}

function setBusy(busy) {
  chat.busy = busy;
  $("#pc-ask").disabled = busy;
  $("#pc-ask").textContent = busy ? "Answering…" : "Ask";
  if (!busy) notice("");
}

function readFilters() {
  const num = (sel) => { const v = $(sel).value.trim(); return v === "" ? null : Number(v); };
  const yearFrom = num("#pc-year-from"), yearTo = num("#pc-year-to");
  if (yearFrom !== null && yearTo !== null && yearFrom > yearTo) {
    throw new Error(`The year range is empty: from ${yearFrom} is after to ${yearTo}.`);
  }
  const f = {
    authors: $("#pc-author").value.split(",").map((a) => a.trim()).filter(Boolean),
    year_from: yearFrom, year_to: yearTo, category: $("#pc-category").value || null,
    paper_ids: chat.scope ? [chat.scope.id] : [],
  };
  const active = f.authors.length || f.year_from !== null || f.year_to !== null || f.category || f.paper_ids.length;
  return active ? f : null;
}

async function ask(question) {
  const q = (question || "").trim();
  if (chat.busy) { // never two answers at once: the question stays in the box
    notice("Still answering the previous question — your question stays in the box; send it when the answer is done.");
    return;
  }
  if (!q) { notice("Please type a question first — or click one of the example questions."); return; }
  let filters;
  try { filters = readFilters(); } catch (e) { notice(e.message); return; }
  notice("");
  $("#pc-empty").hidden = true;
  const view = new AnswerView(q, chat.scope);
  $("#pc-chat").append(view.user, view.node);
  view.user.scrollIntoView({ block: "start", behavior: "smooth" });
  $("#pc-question").value = "";
  setBusy(true);
  const history = chat.turns.slice(-MAX_HISTORY_TURNS);
  try {
    const r = await fetch("/api/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: q, history, filters }),
    });
    if (!r.ok) {
      let msg = `the server answered ${r.status}`;
      try { msg = (await r.json()).error || msg; } catch { /* keep the status */ }
      view.fail(msg);
      return;
    }
    let draft = "", finished = false;
    for await (const [event, data] of readEvents(r)) {
      if (event === "sources") { view.provisional(data.sources); view.setState("streaming", "Writing the answer…"); }
      else if (event === "delta") { draft += data.text; view.delta(draft); }
      else if (event === "answer") {
        view.final(data);
        // The cited papers travel with the turn, so "the second one" resolves whatever the answer's wording.
        const papers = (data.citations?.length ? data.citations : data.related || []).map((c) => c.paper_id);
        chat.turns.push({ role: "user", content: q }, { role: "assistant", content: data.answer, papers });
        finished = true;
      } else if (event === "error") { view.fail(data.error); finished = true; }
    }
    if (!finished) view.fail("The answer was cut off (the connection closed early). Please ask again.");
  } catch (e) {
    view.fail(`Could not reach the paperchat server (${e.message}). Is it still running?`);
  } finally {
    setBusy(false); // whatever happened, the chat is usable again
  }
}

function setScope(id, title) {
  chat.scope = id ? { id, title } : null;
  $("#pc-scope").hidden = !id;
  $("#pc-scope-title").textContent = title || "";
  showTab("chat");
  if (id) $("#pc-question").focus();
}

function clearChat() {
  if (chat.busy) { notice("Still answering — clear the chat when the answer is done."); return; }
  chat.turns = [];
  fill($("#pc-chat"), $("#pc-empty"));
  $("#pc-empty").hidden = false;
  notice("");
}

// -- browse -------------------------------------------------------------------------------------------

const browse = { offset: 0, total: 0, facets: null, loaded: false };

function browseQuery() {
  const params = new URLSearchParams({ limit: PAGE_SIZE, offset: browse.offset });
  const add = (key, sel) => { const v = $(sel).value.trim(); if (v) params.set(key, v); };
  add("q", "#br-q"); add("author", "#br-author"); add("year_from", "#br-year-from");
  add("year_to", "#br-year-to"); add("category", "#br-category"); add("source", "#br-source");
  return params;
}

function paperMeta(p) {
  return [authorsText(p.authors, p.authors_truncated), dateText(p),
    p.category ? `${p.category}` : null, `read from: ${(p.provenance || []).map((s) => s.page).filter((v, i, a) => a.indexOf(v) === i).join(", ")}`]
    .filter(Boolean).join(" · ");
}

async function loadPapers() {
  const list = $("#br-list");
  try {
    const page = await getJSON(`/api/papers?${browseQuery()}`);
    browse.total = page.total;
    const first = page.total ? page.offset + 1 : 0, last = page.offset + page.papers.length;
    $("#br-count").textContent = page.total ? `Papers ${first}–${last} of ${page.total}` : "No paper matches these filters.";
    fill(list, ...page.papers.map((p) => el("li", { class: "br-item" },
      el("button", { type: "button", class: "br-open", "data-paper-id": p.paper_id, onclick: () => openPaper(p.paper_id) }, p.title),
      el("div", { class: "br-meta" }, paperMeta(p)))));
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    $("#br-page").textContent = `page ${Math.floor(browse.offset / PAGE_SIZE) + 1} of ${pages}`;
    $("#br-prev").disabled = browse.offset === 0;
    $("#br-next").disabled = last >= page.total;
  } catch (e) {
    $("#br-count").textContent = "⚠ " + e.message;
    fill(list);
  }
}

function facetMeaning(kind, value) {
  const f = browse.facets && browse.facets[kind].find((x) => x.value === value);
  return f && f.meaning;
}

function field(name, ...value) {
  return [el("dt", {}, name), el("dd", {}, ...value)];
}

async function openPaper(id) {
  const box = $("#br-paper");
  fill(box, el("p", { class: "pc-note" }, "Loading…"));
  let p;
  try { p = await getPaper(id); } catch (e) { fill(box, el("p", { class: "pc-error" }, "⚠ " + e.message)); return; }
  const similar = el("div", { class: "br-similar" });
  fill(box,
    el("h2", { id: "br-paper-title" }, p.title),
    p.title_derived ? el("p", { class: "pc-note" }, "No page gave a title; this one is derived from the abstract.") : null,
    el("div", { class: "br-actions" },
      el("button", { type: "button", class: "primary", id: "br-ask-about", onclick: () => setScope(p.paper_id, p.title) }, "Ask about this paper"),
      el("button", { type: "button", class: "secondary", id: "br-similar", onclick: () => loadSimilar(p.paper_id, similar) }, "Similar papers")),
    el("dl", { class: "br-fields" },
      field("Authors", authorsText(p.authors, p.authors_truncated), p.authors_truncated ? " (the page listed only the first authors)" : ""),
      field("Affiliations", p.affiliations.length ? p.affiliations.join(", ") : "not listed"),
      field("Date", p.date ? `${p.date_text || p.date}${p.date_text && p.date !== p.date_text ? ` (${p.date})` : ""}` : "date not recorded"),
      field("Category", p.category ? `${p.category} — ${facetMeaning("categories", p.category) || "meaning unknown"}` : "not recorded"),
      field("arXiv", p.arxiv_id ? arxivLink(p.arxiv_id) : "no id recorded"),
      p.comments.length ? field("Comments", p.comments.join(" · ")) : null,
      field("Paper id", el("code", {}, p.paper_id))),
    el("h3", {}, "Abstract"),
    el("p", { class: "br-abstract" }, p.abstract),
    el("h3", {}, `Where it was read (${p.provenance.length} ${p.provenance.length === 1 ? "copy" : "copies"})`),
    el("table", { class: "br-prov" },
      el("thead", {}, el("tr", {}, el("th", {}, "Page"), el("th", {}, "File"), el("th", {}, "Line"), el("th", {}, "Listed under"))),
      el("tbody", {}, p.provenance.map((s) => el("tr", {},
        el("td", { title: facetMeaning("sources", s.page) || "" }, s.page),
        el("td", {}, el("code", {}, s.file)), el("td", {}, String(s.line)), el("td", {}, s.listing_date || "—"))))),
    el("p", { class: "hint" }, "When a paper appears on several pages, its fields are merged from the copies above; the " +
      "line is where the copy's abstract starts."),
    similar);
  box.scrollTop = 0;
  if (PHONE.matches) box.scrollIntoView({ block: "start", behavior: "smooth" }); // on a desktop it sits beside the list
}

async function loadSimilar(id, box) {
  fill(box, el("p", { class: "pc-note" }, "Finding similar papers…"));
  try {
    const r = await getJSON(`/api/papers/${encodeURIComponent(id)}/similar?n=5`);
    const how = r.method === "paper-vector" ? "by each paper's title+abstract vector"
      : "by embedding this paper's title and abstract and matching it against every paper's chunks";
    fill(box, el("h3", {}, "Similar papers"), el("p", { class: "hint" }, `Nearest neighbours ${how}.`),
      el("ol", { class: "paper-list" }, r.papers.map((p) => el("li", { class: "br-item" },
        el("button", { type: "button", class: "br-open", onclick: () => openPaper(p.paper_id) }, p.title),
        el("div", { class: "br-meta" }, `similarity ${p.score.toFixed(2)} · ${paperMeta(p)}`)))));
    const panel = $("#br-paper"); // on a desktop the paper panel scrolls by itself; the page stays put
    if (PHONE.matches) box.scrollIntoView({ block: "start", behavior: "smooth" });
    else panel.scrollTo({ top: box.offsetTop - 8, behavior: "smooth" }); // offsetTop: relative to the sticky panel
  } catch (e) {
    fill(box, el("p", { class: "pc-error" }, "⚠ " + e.message));
  }
}

// -- page setup -------------------------------------------------------------------------------------

function showTab(name) {
  for (const t of ["chat", "browse"]) {
    $(`#tab-${t}`).setAttribute("aria-selected", String(t === name));
    $(`#${t}-view`).hidden = t !== name;
  }
  if (name === "browse" && !browse.loaded) { browse.loaded = true; loadPapers(); }
}

async function loadFacets() {
  try {
    browse.facets = await getJSON("/api/papers/facets");
  } catch { return; }
  for (const sel of ["#pc-category", "#br-category"]) {
    $(sel).append(...browse.facets.categories.map((c) =>
      el("option", { value: c.value }, `${c.value} — ${c.meaning || "unknown"} (${c.count})`)));
  }
  $("#br-source").append(...browse.facets.sources.map((s) =>
    el("option", { value: s.value }, `${s.value} — ${s.meaning || ""} (${s.count})`)));
}

async function loadMode() {
  const badge = $("#pc-mode");
  try {
    const r = await fetch("/api/health");
    const h = await r.json();
    if (h.status !== "ok") throw new Error(h.error || "unavailable");
    fill(badge, h.mode === "llm" ? `LLM: ${h.model}` : ["extractive", el("span", { class: "long" }, " answers — no LLM configured")]);
    badge.title = h.mode === "llm" ? `answers written by ${h.model}, checked against the sources`
      : "no LLM configured: answers quote the most relevant sentences of the papers";
    badge.className = `badge pc-${h.mode}`;
  } catch (e) {
    badge.textContent = `not ready: ${e.message}`;
    badge.className = "badge pc-error";
  }
}

function init() {
  $("#pc-examples").append(...EXAMPLES.map((q) => el("li", {},
    el("button", { type: "button", class: "example", onclick: () => ask(q) }, q))));
  $("#pc-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("#pc-question").value); });
  $("#pc-question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { // Shift+Enter: a new line
      e.preventDefault();
      ask($("#pc-question").value);
    }
  });
  $("#pc-question").addEventListener("input", (e) => { // grow with the text, up to a few lines
    e.target.style.height = "auto";
    e.target.style.height = `${Math.min(e.target.scrollHeight, 160)}px`;
  });
  $("#pc-clear").addEventListener("click", clearChat);
  $("#pc-scope-clear").addEventListener("click", () => setScope(null));
  for (const sel of ["#pc-author", "#pc-year-from", "#pc-year-to", "#pc-category"]) {
    $(sel).addEventListener("change", () => {
      const n = ["#pc-author", "#pc-year-from", "#pc-year-to", "#pc-category"].filter((s) => $(s).value.trim()).length;
      $("#pc-filter-count").textContent = n ? `(${n} active)` : "";
    });
  }
  $("#tab-chat").addEventListener("click", () => showTab("chat"));
  $("#tab-browse").addEventListener("click", () => showTab("browse"));
  $("#br-form").addEventListener("submit", (e) => { e.preventDefault(); browse.offset = 0; loadPapers(); });
  for (const sel of ["#br-category", "#br-source"]) {
    $(sel).addEventListener("change", () => { browse.offset = 0; loadPapers(); });
  }
  $("#br-prev").addEventListener("click", () => { browse.offset = Math.max(0, browse.offset - PAGE_SIZE); loadPapers(); });
  $("#br-next").addEventListener("click", () => { browse.offset += PAGE_SIZE; loadPapers(); });
  loadMode();
  loadFacets();
  $("#pc-question").focus();
}

init();
