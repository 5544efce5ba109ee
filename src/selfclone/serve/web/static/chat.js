// The chat page: streams replies from POST /web/chat; the conversation id lives in localStorage, its turns in the
// server's store, so a reload shows the same conversation. With --translate, each bubble shows the original beside
// the translation. site.js (loaded first) gives $, getJSON and the page list.
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

const json = getJSON;

function original(li, language, text) {
  li.appendChild(element("small", {className: "original", textContent: language + ": " + text.trim()}));
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
  const last = await json("/web/conversations/" + encodeURIComponent(conversation) + "/last");
  if (last.translated) {            // the user's words as the clone read them, and the clone's own words
    original(reply.previousElementSibling, last.clone_language, last.user_for_clone);
    original(reply, last.clone_language, last.reply_from_clone);
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
  const info = await json("/web/info");
  for (const m of info.models) $("model").add(new Option(m, m));
  $("context").value = info.context || "";
  $("memory").value = info.memory;
  $("temperature").value = info.temperature;
  $("max_tokens").value = info.max_tokens;
  if (conversation) await open(conversation); else await newConversation();
  listConversations();
})();
