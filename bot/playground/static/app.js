// Shiplog playground: draws the pretend server from /api/state and /api/messages, and sends what you do.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
};

const OPTION = { SUB: 1, GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7, ROLE: 8, MENTIONABLE: 9, NUMBER: 10, ATTACHMENT: 11 };
const EPHEMERAL = 1 << 6;
const LOADING = 1 << 7;
const COLORS = ["#5865f2", "#eb459e", "#3ba55c", "#faa61a", "#ed4245", "#9b59b6", "#1abc9c"];

const app = {
  state: null,
  me: localStorage.getItem("shiplog-playground-me"),
  channel: null,
  commands: [],
  drawn: "",
  seen: {},
  command: null, // the slash command being filled in: {path, leaf}
  popupItems: [],
  popupIndex: 0,
};

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function notice(text, kind = "error") {
  const box = $("#notice");
  box.textContent = text;
  box.className = `notice ${kind === "info" ? "info" : ""}`;
  box.hidden = !text;
  clearTimeout(notice.timer);
  if (text) notice.timer = setTimeout(() => (box.hidden = true), 8000);
}

// --- names ------------------------------------------------------------------------------------

function person(id) {
  const s = app.state;
  if (!s) return null;
  if (s.bot.id === id) return { id, name: s.bot.name, bot: true };
  return s.people.find((p) => p.id === id) || null;
}
function colorOf(id) {
  const index = app.state ? app.state.people.findIndex((p) => p.id === id) : -1;
  if (index >= 0) return COLORS[(index + 1) % COLORS.length];
  let h = 0;
  for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}
function avatar(user, small = false) {
  const bot = user && user.bot;
  return el("span", {
    class: `avatar${small ? " small" : ""}`,
    style: `background:${bot ? "#5865f2" : colorOf(user ? user.id : "?")}`,
    text: bot ? "⛵" : (user ? user.name || user.username : "?").slice(0, 1).toUpperCase(),
  });
}
const channelName = (id) => (app.state?.channels.find((c) => c.id === id) || {}).name;
const roleName = (id) => (app.state?.roles.find((r) => r.id === id) || {}).name;

// --- markdown, the part of Discord's that Shiplog's messages use ------------------------------------

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function safeUrl(url) {
  return /^https?:\/\//i.test(url) ? url : "#";
}
function formatTimestamp(seconds, style) {
  const d = new Date(Number(seconds) * 1000);
  const opts = {
    t: { hour: "2-digit", minute: "2-digit" },
    T: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    d: { year: "numeric", month: "2-digit", day: "2-digit" },
    D: { year: "numeric", month: "long", day: "numeric" },
    f: { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
    F: { weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
  };
  if (style === "R") {
    const now = app.state ? new Date(app.state.clock) : new Date();
    const diff = (d - now) / 1000;
    const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const [unit, size] = units.find(([, s]) => Math.abs(diff) >= s) || ["second", 1];
    return new Intl.RelativeTimeFormat("en", { numeric: "auto" }).format(Math.round(diff / size), unit);
  }
  return d.toLocaleString("en-GB", { ...(opts[style] || opts.f), timeZone: "UTC" }) + (style === "d" || style === "D" ? "" : " UTC");
}

function inline(text) {
  // A backslash makes the next character plain (Shiplog escapes what members typed), then code spans:
  // neither is read as markup. Both are set aside and put back at the end.
  const plain = [];
  const codes = [];
  text = text.replace(/\\([\\*_`~|>#\-\[\]()<:])/g, (_, c) => `\u0001${plain.push(c) - 1}\u0001`);
  text = text.replace(/`([^`\n]+)`/g, (_, code) => `\u0000${codes.push(code) - 1}\u0000`);
  let html = escapeHtml(text);
  html = html
    .replace(/\[([^\]\n]+)\]\(&lt;(https?:\/\/[^\s&]+?)&gt;\)/g, (_, label, url) => `<a href="${safeUrl(url)}" target="_blank" rel="noopener">${label}</a>`)
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, url) => `<a href="${safeUrl(url)}" target="_blank" rel="noopener">${label}</a>`)
    .replace(/&lt;(https?:\/\/[^\s&]+)&gt;/g, (_, url) => `<a href="${safeUrl(url)}" target="_blank" rel="noopener">${url}</a>`)
    .replace(/(^|[\s(])(https?:\/\/[^\s<)]+)/g, (_, pre, url) => `${pre}<a href="${safeUrl(url)}" target="_blank" rel="noopener">${url}</a>`)
    .replace(/\*\*\*(.+?)\*\*\*/g, "<b><i>$1</i></b>")
    .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
    .replace(/__(.+?)__/g, "<u>$1</u>")
    .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\*)/g, "$1<i>$2</i>")
    .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, "$1<i>$2</i>")
    .replace(/~~(.+?)~~/g, "<s>$1</s>")
    .replace(/\|\|(.+?)\|\|/g, "<span class=\"timestamp\">$1</span>")
    .replace(/&lt;@!?(\d+)&gt;/g, (_, id) => {
      const p = person(id);
      const mine = id === app.me ? " mention-me" : "";
      return `<span class="mention${mine}">@${escapeHtml(p ? p.name : "unknown-user")}</span>`;
    })
    .replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => `<span class="mention">@${escapeHtml(roleName(id) || "deleted-role")}</span>`)
    .replace(/&lt;#(\d+)&gt;/g, (_, id) => `<button type="button" class="mention channel-mention" data-channel="${id}">#${escapeHtml(channelName(id) || "unknown")}</button>`)
    .replace(/&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;/g, (_, s, style) => `<span class="timestamp">${escapeHtml(formatTimestamp(s, style || "f"))}</span>`)
    .replace(/&lt;\/([\w -]+):\d+&gt;/g, (_, name) => `<span class="mention">/${escapeHtml(name)}</span>`);
  html = html.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code class="inline-code">${escapeHtml(codes[Number(i)])}</code>`);
  return html.replace(/\u0001(\d+)\u0001/g, (_, i) => escapeHtml(plain[Number(i)]));
}

function markdown(text) {
  if (!text) return "";
  const parts = text.split(/```(?:[\w+-]*\n)?([\s\S]*?)```/g);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return `<pre class="codeblock"><code>${escapeHtml(part.replace(/\n$/, ""))}</code></pre>`;
      return part
        .split("\n")
        .map((line) => {
          let m;
          if ((m = line.match(/^(#{1,3}) (.*)$/))) return `<h${m[1].length}>${inline(m[2])}</h${m[1].length}>`;
          if ((m = line.match(/^-# (.*)$/))) return `<span class="subtext">${inline(m[1])}</span>`;
          if ((m = line.match(/^> ?(.*)$/))) return `<blockquote>${inline(m[1])}</blockquote>`;
          if ((m = line.match(/^(\s*)[-*] (.*)$/))) return `${m[1]}• ${inline(m[2])}`;
          return inline(line);
        })
        .join("\n")
        .replace(/<\/(h\d|blockquote)>\n/g, "</$1>");
    })
    .join("");
}

// --- messages --------------------------------------------------------------------------------------

function hex(color) {
  return color === undefined || color === null ? "#1e1f22" : `#${Number(color).toString(16).padStart(6, "0")}`;
}

function attachmentUrl(message, url) {
  if (!url || !url.startsWith("attachment://")) return url;
  const name = url.slice("attachment://".length);
  const found = (message.attachments || []).find((a) => a.filename === name);
  return found ? found.url : null;
}

function drawEmbed(message, embed, usedFiles) {
  const image = embed.image && attachmentUrl(message, embed.image.url);
  if (embed.image && embed.image.url?.startsWith("attachment://")) usedFiles.add(embed.image.url.slice(13));
  const title = embed.title
    ? el("div", { class: "embed-title" }, embed.url ? el("a", { href: safeUrl(embed.url), target: "_blank", rel: "noopener", html: inline(embed.title) }) : el("span", { html: inline(embed.title) }))
    : null;
  return el(
    "div",
    { class: "embed", style: `border-left-color:${hex(embed.color)}` },
    embed.author ? el("div", { class: "embed-author", text: embed.author.name }) : null,
    title,
    embed.description ? el("div", { class: "embed-description", html: markdown(embed.description) }) : null,
    embed.fields?.length
      ? el(
          "div",
          { class: "embed-fields" },
          embed.fields.map((f) =>
            el("div", { class: `embed-field${f.inline ? " inline" : ""}` }, el("div", { class: "embed-field-name", html: inline(f.name) }), el("div", { class: "embed-field-value", html: markdown(f.value) })),
          ),
        )
      : null,
    image ? el("div", { class: "embed-image" }, el("img", { src: image, alt: embed.image.url.slice(13) || "image" })) : null,
    embed.footer || embed.timestamp
      ? el("div", { class: "embed-footer", text: [embed.footer?.text, embed.timestamp ? new Date(embed.timestamp).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC" : null].filter(Boolean).join(" • ") })
      : null,
  );
}

function drawComponents(message) {
  const rows = (message.components || []).filter((row) => row.type === 1);
  if (!rows.length) return null;
  return el(
    "div",
    { class: "components" },
    rows.map((row) =>
      el(
        "div",
        { class: "action-row" },
        row.components.map((c) => {
          const label = [c.emoji?.name, c.label].filter(Boolean).join(" ");
          if (c.type === 2 && c.style === 5) return el("a", { class: "component style-5", href: safeUrl(c.url), target: "_blank", rel: "noopener", text: `${label} ↗` });
          if (c.type !== 2) return el("span", { class: "component style-2", text: "(a select menu: not drawn here)" });
          return el("button", {
            class: `component style-${c.style}`,
            disabled: c.disabled,
            "data-custom-id": c.custom_id,
            "data-focus": `component:${message.id}:${c.custom_id}`,
            text: label,
            onclick: (event) => click(message, c.custom_id, event.currentTarget),
          });
        }),
      ),
    ),
  );
}

function drawMessage(message) {
  const author = { ...message.author, name: message.author.global_name || message.author.username };
  const ephemeral = message.flags & EPHEMERAL;
  const usedFiles = new Set();
  const embeds = (message.embeds || []).map((e) => drawEmbed(message, e, usedFiles));
  const files = (message.attachments || [])
    .filter((a) => !usedFiles.has(a.filename))
    .map((a) =>
      (a.content_type || "").startsWith("image/")
        ? el("div", { class: "attachment-image" }, el("img", { src: a.url, alt: a.filename }))
        : el("a", { class: "attachment-file", href: a.url, download: a.filename, target: "_blank" }, "📄 ", a.filename),
    );
  const used = message.interaction || (message.interaction_metadata && message.interaction_metadata.type === 2 ? message.interaction_metadata : null);
  const mentionsMe = (message.mentions || []).some((m) => m.id === app.me);
  const when = new Date(message.timestamp);
  return el(
    "div",
    { class: `message${ephemeral ? " ephemeral" : ""}${mentionsMe ? " mentions-me" : ""}`, "data-id": message.id },
    used
      ? el("div", { class: "reply-line" }, "↳ ", el("span", { class: "who", text: used.user.global_name || used.user.username }), " used ", el("span", { class: "cmd", text: `/${used.name || "a command"}` }))
      : null,
    avatar(author),
    el(
      "div",
      { class: "body" },
      el("div", { class: "head" }, el("span", { class: "author", text: author.name }), author.bot ? el("span", { class: "tag", text: "APP" }) : null, el("span", { class: "time", text: when.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }) })),
      message.flags & LOADING ? el("div", { class: "thinking", text: `${author.name} is thinking` }) : null,
      message.content ? el("div", { class: "content", html: markdown(message.content) }) : null,
      embeds,
      files,
      drawComponents(message),
      ephemeral ? el("div", { class: "ephemeral-note" }, el("span", { class: "eye", text: "👁" }), "Only you can see this") : null,
    ),
  );
}

function drawMessages(list) {
  const box = $("#messages");
  const key = JSON.stringify(list);
  if (key === app.drawn) return;
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120 || !app.drawn;
  app.drawn = key;
  const channel = app.state.channels.find((c) => c.id === app.channel);
  const intro = channel
    ? el("div", { class: "empty" }, el("h2", { text: `Welcome to #${channel.name}!` }), channel.topic || "")
    : el("div", { class: "empty" }, el("h2", { text: "Shiplog" }), "Your DMs with Shiplog: streak reminders and review nudges land here.");
  keepingFocus(() => box.replaceChildren(intro, ...list.map(drawMessage)));
  if (nearBottom) box.scrollTop = box.scrollHeight;
  for (const img of box.querySelectorAll("img")) img.addEventListener("load", () => nearBottom && (box.scrollTop = box.scrollHeight), { once: true });
}

// --- the sidebar and the panel -------------------------------------------------------------------

// The page redraws its lists every second: the element that had the keyboard's focus is found
// again (by its data-focus key) and focused, so Tab and Enter keep working.
function keepingFocus(draw) {
  const key = document.activeElement?.dataset?.focus;
  draw();
  if (key && !document.activeElement?.dataset?.focus) document.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus();
}

function drawState() {
  keepingFocus(drawStateNow);
}

function drawStateNow() {
  const s = app.state;
  $("#server-name").textContent = s.server.name;
  const selectChannel = (id) => () => {
    app.channel = id;
    app.drawn = "";
    cancelCommand();
    notice("");
    refresh();
  };
  $("#channels").replaceChildren(
    ...s.channels.map((c) => {
      const unread = c.id !== app.channel && c.count > (app.seen[c.id] ?? c.count);
      const label = unread ? `${c.name}, ${c.count - app.seen[c.id]} unread` : c.name;
      return el("li", { class: `channel${c.id === app.channel ? " selected" : ""}${unread ? " unread" : ""}`, "data-name": c.name, "data-id": c.id, onclick: selectChannel(c.id) }, el("button", { class: "pick", type: "button", "data-focus": `channel:${c.name}`, "aria-label": label, "aria-current": c.id === app.channel ? "true" : null }, el("span", { class: "hash", text: "#" }), c.name, unread ? el("span", { class: "badge", text: String(c.count - app.seen[c.id]) }) : null));
    }),
  );
  const dm = s.dm;
  const dmUnread = dm && dm.id !== app.channel && dm.count > (app.seen[dm.id] ?? 0);
  $("#dms").replaceChildren(
    dm
      ? el("li", { class: `channel${dm.id === app.channel ? " selected" : ""}${dmUnread ? " unread" : ""}`, "data-name": "dm", onclick: selectChannel(dm.id) }, el("button", { class: "pick", type: "button", "data-focus": "channel:dm", "aria-current": dm.id === app.channel ? "true" : null }, avatar({ bot: true }, true), s.bot.name, dmUnread ? el("span", { class: "badge", text: String(dm.count - (app.seen[dm.id] ?? 0)) }) : null))
      : el("li", { class: "channel", style: "cursor:default" }, el("span", { class: "subtext", text: "No DMs yet" })),
  );
  for (const c of s.channels) if (c.id === app.channel || app.seen[c.id] === undefined) app.seen[c.id] = c.count;
  if (dm && dm.id === app.channel) app.seen[dm.id] = dm.count;

  $("#me-avatar").replaceWith(Object.assign(avatar(s.me, true), { id: "me-avatar" }));
  $("#me-name").textContent = s.me.name;
  $("#me-role").textContent = s.me.admin ? "Admin (Manage Server)" : "Member";
  $("#people").replaceChildren(
    ...s.people.map((p) =>
      el(
        "li",
        { class: `person${p.id === s.me.id ? " selected" : ""}${p.here ? "" : " gone"}`, "data-name": p.name, onclick: () => (p.here ? become(p.id) : notice(`${p.name} has left the server: rejoin first.`)) },
        el(
          "button",
          { class: "pick", type: "button", "data-focus": `person:${p.name}`, "aria-pressed": p.id === s.me.id ? "true" : "false" },
          avatar(p, true),
          p.name,
          el("span", { class: `role${p.admin ? " admin" : ""}`, text: !p.here ? "left the server" : p.admin ? "admin" : p.name === s.linked.member ? `GitHub: ${s.linked.login}` : "member" }),
        ),
        p.id === s.server.owner ? null : el("button", { class: "membership", type: "button", "data-focus": `membership:${p.name}`, "data-action": p.here ? "leave" : "rejoin", title: p.here ? `${p.name} leaves the server` : `${p.name} joins the server again`, text: p.here ? "Leave" : "Rejoin", onclick: (e) => (e.stopPropagation(), membership(p, e.target)) }),
      ),
    ),
  );
  const mine = s.me.github;
  $("#bio-hint").textContent = mine ? `You are ${mine.login} on the pretend GitHub. /github link username:${mine.login} gives a code: put it in your bio, then /github verify.` : "";
  if (document.activeElement !== $("#bio")) $("#bio").value = mine ? mine.bio : "";
  $("#github-hint").textContent = `Deliveries about ${s.repo}, signed and posted to the bot's /github/webhook. alice is linked to ${s.linked.login}.`;
  $("#events").replaceChildren(...s.events.slice().reverse().map((e) => el("li", { text: e.text })));
  const utc = (iso) => new Date(iso).toLocaleString("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }) + " UTC";
  $("#clock").textContent = `Shiplog's clock: ${utc(s.clock)}`;
  $("#next-run").textContent = `Weekly ping and digest: ${s.schedule}, next ${utc(s.next_run)}.`;
  $("#setup").replaceChildren(...s.setup.map((line) => el("li", {}, el("code", { text: line }))));
  $("#community-tip").hidden = !s.community;
  if (s.community) $("#community-link").href = s.community;

  const channel = s.channels.find((c) => c.id === app.channel);
  $("#chat-hash").textContent = channel ? "#" : "@";
  $("#chat-title").textContent = channel ? channel.name : s.bot.name;
  $("#chat-topic").textContent = channel ? channel.topic || "" : "Direct messages";
  $("#composer").placeholder = channel ? `Message #${channel.name} — type / for Shiplog's commands` : "Shiplog's commands work in the server's channels";
  $("#composer").disabled = !channel;
}

async function membership(p, button) {
  const action = p.here ? "leave" : "rejoin";
  // Who leaves can do nothing here: the page becomes the admin, who can tell Shiplog with /settings member-left.
  const admin = app.state.people.find((q) => q.admin && q.here);
  button.disabled = true;
  try {
    await api("/api/membership", { member: p.id, action });
    notice(action === "leave" ? `${p.name} left the server. Shiplog's bot has no members intent here: as ${admin.name}, tell it with /settings member-left.` : `${p.name} joined the server again.`, "info");
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
  }
  if (action === "leave" && p.id === app.me) await become(admin.id, true);
  else await refresh();
}

async function become(id, keepNotice = false) {
  if (!keepNotice) notice("");
  app.me = id;
  localStorage.setItem("shiplog-playground-me", id);
  app.drawn = "";
  cancelCommand();
  if (app.state && app.state.dm && app.channel === app.state.dm.id) app.channel = null;
  await loadCommands();
  await refresh();
}

async function loadCommands() {
  app.commands = await api(`/api/commands?as=${app.me}`);
}

async function refresh() {
  app.state = await api(`/api/state?as=${app.me}`);
  const known = app.state.channels.some((c) => c.id === app.channel) || app.state.dm?.id === app.channel;
  if (!known) app.channel = (app.state.channels.find((c) => c.name === "general") || app.state.channels[0]).id;
  drawState();
  drawMessages(await api(`/api/messages?as=${app.me}&channel=${app.channel}`));
}

// --- slash commands -----------------------------------------------------------------------------

function leaves() {
  const out = [];
  for (const command of app.commands) {
    const subs = (command.options || []).filter((o) => o.type === OPTION.SUB || o.type === OPTION.GROUP);
    if (!subs.length) out.push({ path: command.name, leaf: command });
    for (const sub of subs) {
      if (sub.type === OPTION.SUB) out.push({ path: `${command.name} ${sub.name}`, leaf: sub });
      else for (const s2 of sub.options || []) out.push({ path: `${command.name} ${sub.name} ${s2.name}`, leaf: s2 });
    }
  }
  return out;
}

function showPopup(items, title, onPick) {
  const popup = $("#popup");
  app.popupItems = items;
  app.popupIndex = 0;
  app.popupPick = onPick;
  if (!items.length) {
    popup.replaceChildren(el("div", { class: "popup-title", text: title }), el("div", { class: "popup-empty", text: app.state?.me.admin ? "No Shiplog command matches." : "No command of yours matches (members don't see the admins' /settings)." }));
    popup.hidden = false;
    return;
  }
  popup.replaceChildren(
    el("div", { class: "popup-title", text: title }),
    ...items.map((item, i) =>
      el("div", { class: `popup-item${i === 0 ? " active" : ""}`, "data-name": item.path, onmousedown: (e) => (e.preventDefault(), onPick(item)) }, el("span", { class: "name", text: `/${item.path}` }), el("span", { class: "desc", text: item.leaf.description || "" })),
    ),
  );
  popup.hidden = false;
}

function movePopup(step) {
  const items = [...document.querySelectorAll("#popup .popup-item")];
  if (!items.length) return;
  app.popupIndex = (app.popupIndex + step + items.length) % items.length;
  items.forEach((item, i) => item.classList.toggle("active", i === app.popupIndex));
  items[app.popupIndex].scrollIntoView({ block: "nearest" });
}

function onComposerInput() {
  const text = $("#composer").value;
  if (app.command || !text.startsWith("/")) {
    $("#popup").hidden = true;
    return;
  }
  const typed = text.slice(1).trim().toLowerCase();
  // Discord's order: the commands the text starts, then the ones it appears in.
  const rank = (l) => (l.path === typed ? 0 : l.path.startsWith(typed) ? 1 : l.path.split(" ").some((w) => w.startsWith(typed)) ? 2 : l.path.includes(typed) ? 3 : 9);
  const found = leaves()
    .map((l) => [rank(l), l])
    .filter(([r]) => r < 9)
    .sort((a, b) => a[0] - b[0] || a[1].path.localeCompare(b[1].path))
    .map(([, l]) => l);
  showPopup(found.slice(0, 25), typed ? `Commands matching /${typed}` : "Shiplog's commands", pickCommand);
}

function pickCommand(item) {
  $("#popup").hidden = true;
  app.command = item;
  $("#composer").value = "";
  $("#composer").placeholder = "Fill in the options, then press Enter";
  const bar = $("#command-bar");
  const options = (item.leaf.options || []).slice().sort((a, b) => Number(!!b.required) - Number(!!a.required));
  bar.replaceChildren(
    el("span", { class: "command-name", text: `/${item.path}` }),
    ...options.map(optionField),
    el("button", { class: "cancel-command", type: "button", text: "✕ cancel", onclick: () => cancelCommand() }),
    el("div", { class: "command-desc", text: item.leaf.description || "" }),
  );
  bar.hidden = false;
  const first = bar.querySelector("input, select");
  (first || $("#composer")).focus();
}

function cancelCommand() {
  app.command = null;
  $("#command-bar").hidden = true;
  $("#command-bar").replaceChildren();
  $("#popup").hidden = true;
  if (app.state) drawState();
}

function selectOf(option, entries) {
  return el("select", { "data-option": option.name, name: option.name }, option.required ? null : el("option", { value: "", text: "—" }), entries.map(([value, label]) => el("option", { value, text: label })));
}

function optionField(option) {
  const s = app.state;
  let input;
  if (option.choices?.length) input = selectOf(option, option.choices.map((c) => [JSON.stringify(c.value), c.name]));
  else if (option.type === OPTION.BOOLEAN) input = selectOf(option, [["true", "True"], ["false", "False"]]);
  else if (option.type === OPTION.USER) input = selectOf(option, s.people.map((p) => [p.id, p.here ? `@${p.name}` : `${p.name} (left)`]));
  else if (option.type === OPTION.CHANNEL) input = selectOf(option, s.channels.map((c) => [c.id, `#${c.name}`]));
  else if (option.type === OPTION.ROLE) input = selectOf(option, s.roles.map((r) => [r.id, `@${r.name}`]));
  else if (option.type === OPTION.MENTIONABLE) input = selectOf(option, [...s.people.map((p) => [p.id, `@${p.name}`]), ...s.roles.map((r) => [r.id, `@${r.name}`])]);
  else if (option.type === OPTION.ATTACHMENT) input = el("input", { "data-option": option.name, disabled: true, placeholder: "files: not in the playground" });
  else {
    input = el("input", {
      "data-option": option.name,
      name: option.name,
      type: "text",
      inputmode: option.type === OPTION.INTEGER || option.type === OPTION.NUMBER ? "numeric" : undefined,
      placeholder: option.description ? option.description.slice(0, 40) : "",
      size: Math.min(Math.max((option.description || "").length, 10), 34),
    });
    if (option.autocomplete) {
      input.addEventListener("input", () => (delete input.dataset.value, suggest(option, input)));
      input.addEventListener("focus", () => (input.dataset.picked ? delete input.dataset.picked : suggest(option, input)));
      // The choices stay while the focus is on one of them (Tab reaches them, Enter picks one).
      input.addEventListener("blur", () => setTimeout(() => document.activeElement?.closest(".choices") || input.parentNode?.querySelector(".choices")?.remove(), 150));
    }
  }
  input.title = option.description || "";
  input.id = `option-${option.name}`;  // the label names the field: a title alone is no label
  return el("span", { class: `option${option.required ? " required" : ""}` }, el("label", { text: option.name, title: option.description || "", for: input.id }), input);
}

function typed(option, raw) {
  if (raw === "" || raw === undefined) return undefined;
  if (option.type === OPTION.INTEGER) return Number.isInteger(Number(raw)) ? Number(raw) : raw;
  if (option.type === OPTION.NUMBER) return Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (option.type === OPTION.BOOLEAN) return raw === "true";
  return raw;
}

function collectOptions(except) {
  const values = {};
  for (const option of app.command.leaf.options || []) {
    if (option.name === except) continue;
    const input = $(`#command-bar [data-option="${option.name}"]`);
    if (!input) continue;
    let raw = input.dataset.value !== undefined ? JSON.parse(input.dataset.value) : input.value;
    if (option.choices?.length && input.value) raw = JSON.parse(input.value);
    const value = typeof raw === "string" ? typed(option, raw.trim()) : raw;
    if (value !== undefined) values[option.name] = value;
  }
  return values;
}

async function suggest(option, input) {
  const command = app.command;
  const options = { ...collectOptions(option.name), [option.name]: input.value };
  let choices;
  try {
    choices = await api("/api/autocomplete", { as: app.me, channel: app.channel, command: command.path, option: option.name, options });
  } catch (error) {
    return notice(error.message);
  }
  if (app.command !== command || document.activeElement !== input) return;
  const holder = input.parentNode;
  const pick = (c) => {
    input.value = c.name;
    input.dataset.value = JSON.stringify(c.value);
    holder.querySelector(".choices")?.remove();
  };
  holder.querySelector(".choices")?.remove();
  if (!choices.length) return;
  holder.append(
    el(
      "div",
      { class: "choices" },
      choices.map((c) =>
        el("button", {
          class: "choice",
          type: "button",
          text: c.name,
          // A mouse picks on mousedown (the input keeps its focus); the keyboard's Enter clicks.
          onmousedown: (e) => (e.preventDefault(), pick(c)),
          onclick: () => (pick(c), (input.dataset.picked = "1"), input.focus()),
          onblur: () => setTimeout(() => document.activeElement?.closest(".choices") || document.activeElement === input || holder.querySelector(".choices")?.remove(), 150),
        }),
      ),
    ),
  );
}

async function send(event) {
  event.preventDefault();
  if (!app.command) {
    const text = $("#composer").value;
    if (text.startsWith("/")) {
      if (app.popupItems.length) app.popupPick(app.popupItems[app.popupIndex]);
      else notice(`There's no command ${text.split(" ")[0]}: type / to see Shiplog's commands.`);
      return;
    }
    if (!text.trim()) return;
    try {
      await api("/api/say", { as: app.me, channel: app.channel, text });
      $("#composer").value = "";
    } catch (error) {
      notice(error.message);
    }
    return refresh();
  }
  const missing = (app.command.leaf.options || []).filter((o) => o.required && collectOptions()[o.name] === undefined);
  if (missing.length) return notice(`Fill in ${missing.map((o) => o.name).join(", ")} first.`);
  const body = { as: app.me, channel: app.channel, command: app.command.path, options: collectOptions() };
  $("#send").disabled = true;
  try {
    await api("/api/invoke", body);
    cancelCommand();
    notice("");
  } catch (error) {
    notice(error.message);
  } finally {
    $("#send").disabled = false;
  }
  await refresh();
  $("#composer").focus();
}

async function click(message, customId, button) {
  button.disabled = true;
  try {
    await api("/api/click", { as: app.me, message: message.id, custom_id: customId });
  } catch (error) {
    notice(error.message);
  }
  await refresh();
}

async function panelAction(button, path, body, done) {
  button.disabled = true;
  try {
    const answer = await api(path, body);
    if (done) notice(done(answer), "info");
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
  }
  await refresh();
}

function wire() {
  $("#composer-form").addEventListener("submit", send);
  $("#composer").addEventListener("input", onComposerInput);
  $("#composer").addEventListener("keydown", (e) => {
    if ($("#popup").hidden) {
      if (e.key === "Escape") cancelCommand();
      return;
    }
    if (e.key === "ArrowDown") (e.preventDefault(), movePopup(1));
    else if (e.key === "ArrowUp") (e.preventDefault(), movePopup(-1));
    else if (e.key === "Tab") (e.preventDefault(), app.popupPick(app.popupItems[app.popupIndex]));
    else if (e.key === "Escape") $("#popup").hidden = true;
  });
  $("#command-bar").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.target.closest(".choices")) send(e);
    else if (e.key === "Escape") cancelCommand();
  });
  $("#messages").addEventListener("click", (e) => {
    const mention = e.target.closest(".channel-mention");
    if (mention && app.state.channels.some((c) => c.id === mention.dataset.channel)) {
      app.channel = mention.dataset.channel;
      app.drawn = "";
      refresh();
    }
  });
  for (const button of document.querySelectorAll("[data-github]")) {
    button.addEventListener("click", () => panelAction(button, "/api/github", { kind: button.dataset.github }, () => (button.dataset.github === "upstream_merge" ? "Merged on GitHub. The radar finds it on its next pass, in about ten seconds: watch #celebrations." : "Delivered to /github/webhook: watch #celebrations and #github.")));
  }
  $("#bio-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const button = $("#bio-form button");
    panelAction(button, "/api/bio", { as: app.me, bio: $("#bio").value }, () => "Bio saved on the pretend GitHub: /github verify finds a code in it.").then(() => $("#bio").blur());
  });
  for (const button of document.querySelectorAll("[data-hours], [data-next-run]")) {
    const body = button.dataset.nextRun ? { next_run: true } : { hours: Number(button.dataset.hours) };
    button.addEventListener("click", () => panelAction(button, "/api/clock", body, (a) => (a.runs.length ? `The weekly run fired (${a.runs.length}): see #accountability and #digest.` : "")));
  }
}

async function start() {
  wire();
  await boot();
  setInterval(() => refresh().catch(() => {}), 1000);
}

async function boot() {
  // Ids change every run: whoever was picked last time may not be here. Then be alice, who is linked to GitHub.
  const people = await api("/api/people");
  if (!people.some((p) => p.id === app.me && p.here)) {
    app.me = (people.find((p) => p.name === "alice") || people[0]).id;
    localStorage.setItem("shiplog-playground-me", app.me);
  }
  await loadCommands();
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => start().catch((error) => notice(`The playground isn't answering: ${error.message}`)));
