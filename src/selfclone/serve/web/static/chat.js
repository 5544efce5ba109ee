// The chat page: streams replies from POST /web/chat; the conversation id lives in localStorage, its turns in the
// server's store, so a reload shows the same conversation.
const $ = (id) => document.getElementById(id);
const box = $("message"), log = $("log");
let conversation = localStorage.getItem("selfclone.conversation");

function bubble(role, text) {
  const li = document.createElement("li");
  li.className = role;
  li.textContent = text;
  log.appendChild(li);
  li.scrollIntoView({block: "end"});
  return li;
}

async function json(url, options) {
  const r = await fetch(url, options);
  if (!r.ok) throw new Error((await r.json()).error?.message || r.statusText);
  return r.json();
}

async function newConversation() {
  conversation = (await json("/web/conversations", {method: "POST"})).id;
  localStorage.setItem("selfclone.conversation", conversation);
  log.replaceChildren();
}

async function open(id) {
  conversation = id;
  localStorage.setItem("selfclone.conversation", id);
  const data = await json("/web/conversations/" + encodeURIComponent(id));
  log.replaceChildren();
  for (const turn of data.messages) bubble(turn.role, turn.content);
}

async function listConversations() {
  const data = await json("/web/conversations");
  const ul = $("conversations");
  ul.replaceChildren();
  for (const c of data.conversations) {
    const li = document.createElement("li"), b = document.createElement("button");
    b.type = "button";
    b.textContent = c.title || "(empty)";
    b.onclick = () => open(c.id);
    li.appendChild(b);
    ul.appendChild(li);
  }
}

async function send() {
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  bubble("user", text);
  const reply = bubble("assistant", "");
  reply.setAttribute("aria-busy", "true");
  const body = {conversation, text, context: $("context").value, memory: $("memory").value,
                temperature: $("temperature").value, max_tokens: $("max_tokens").value};
  const r = await fetch("/web/chat", {method: "POST", headers: {"content-type": "application/json"},
                                      body: JSON.stringify(body)});
  if (!r.ok) {
    reply.textContent = "error: " + ((await r.json()).error?.message || r.statusText);
  } else {
    const reader = r.body.getReader(), decoder = new TextDecoder();
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      reply.textContent += decoder.decode(value, {stream: true});
    }
  }
  reply.removeAttribute("aria-busy");
  listConversations();
}

box.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
});
$("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
$("reset").onclick = async () => {
  await json("/web/reset", {method: "POST", headers: {"content-type": "application/json"},
                            body: JSON.stringify({conversation})});
  log.replaceChildren();
};
$("new").onclick = () => newConversation().then(listConversations);

(async () => {
  box.focus();
  for (const p of (await json("/web/pages")).pages) {
    const a = document.createElement("a");
    a.href = p.url;
    a.textContent = p.title;
    $("pages").appendChild(a);
  }
  const info = await json("/web/info");
  for (const m of info.models) $("model").add(new Option(m, m));
  $("context").value = info.context || "";
  $("memory").value = info.memory;
  $("temperature").value = info.temperature;
  $("max_tokens").value = info.max_tokens;
  if (conversation) await open(conversation); else await newConversation();
  listConversations();
})();
