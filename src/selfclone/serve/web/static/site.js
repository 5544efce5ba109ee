// What every page of the web app shares: the page list in the sidebar (the current one marked), small fetch
// helpers that turn the server's {"error": {message, hint}} into an Error, and the page's error line.
const $ = (id) => document.getElementById(id);

async function getJSON(url, options) {
  const r = await fetch(url, options);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = data.error || {};
    throw new Error((e.message || r.statusText) + (e.hint ? " (" + e.hint + ")" : ""));
  }
  return data;
}

function postJSON(url, body) {
  return getJSON(url, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body || {})});
}

function showError(err) {
  const line = $("error");
  if (line) line.textContent = err ? String(err.message || err) : "";
}

function element(tag, props, ...children) {
  const el = Object.assign(document.createElement(tag), props || {});
  el.append(...children);
  return el;
}

(async () => {
  const nav = $("pages");
  if (!nav) return;
  for (const p of (await getJSON("/web/pages")).pages) {
    const a = element("a", {href: p.url, textContent: p.title});
    if (p.url === location.pathname) a.setAttribute("aria-current", "page");
    nav.appendChild(a);
  }
})();
