// The Train page: upload (POST /v1/files), the doctor's findings (/web/files/ID/doctor), start a job
// (POST /v1/fine_tuning/jobs), then poll the job and its events once a second: the progress bar from
// "training started: N steps" and each metrics event's step, the curves drawn as plain SVG polylines.
let fileId = null, jobId = localStorage.getItem("selfclone.job"), lastEvent = null, totalSteps = 0, timer = null;
const points = {train_loss: [], valid_loss: [], train_mean_token_accuracy: [], valid_mean_token_accuracy: []};
const COLORS = {train: "#8a5a00", valid: "#2a6fdb"};

function draw(svgId, series) {
  const svg = $(svgId), all = series.flatMap((s) => points[s]);
  svg.replaceChildren();
  if (!all.length) return;
  const W = 400, H = 180, pad = 28;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-6);
  const X = (x) => pad + (x - x0) / (x1 - x0) * (W - 2 * pad), Y = (y) => H - pad - (y - y0) / (y1 - y0) * (H - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
  };
  add("line", {x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#ccc"});
  add("line", {x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: "#ccc"});
  add("text", {x: 2, y: pad, "font-size": 10, fill: "#777"}, y1.toFixed(2));
  add("text", {x: 2, y: H - pad, "font-size": 10, fill: "#777"}, y0.toFixed(2));
  add("text", {x: W - pad, y: H - 8, "font-size": 10, fill: "#777", "text-anchor": "end"}, "step " + x1);
  for (const name of series) {
    const pts = points[name];
    if (!pts.length) continue;
    const color = COLORS[name.startsWith("valid") ? "valid" : "train"];
    add("polyline", {class: "series " + name, fill: "none", stroke: color, "stroke-width": 2,
                     points: pts.map((p) => X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1)).join(" ")});
    for (const p of pts) add("circle", {cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: color});
  }
}

function showFile(file) {
  $("doctor").hidden = false;
  $("file-status").textContent = file.filename + ": " + file.status;
  $("file-details").textContent = file.status_details || "";
  $("file-status").className = "status finding " + (file.status === "error" ? "error" : "info");
}

async function doctor(id) {
  $("doctor-summary").textContent = "the dataset doctor is checking the file...";
  const report = await getJSON("/web/files/" + id + "/doctor");
  $("doctor-summary").textContent = report.examples + " examples; " + report.findings.length + " findings" +
    (report.blocking ? ", " + report.blocking + " blocking" : "") + (report.complete ? "" : " (checks stopped early)");
  $("findings").replaceChildren(...report.notices.map((n) => element("li", {className: "finding info", textContent: n})),
    ...report.findings.map((f) => element("li", {className: "finding " + f.severity,
      textContent: f.severity + " [" + f.check + "] " + f.message + (f.rows.length ? " (lines " + f.rows.join(", ") + ")" : "") +
                   (f.fix ? ": " + f.fix + (f.applied ? " (applied)" : "") : "")})));
}

$("upload").onsubmit = async (e) => {
  e.preventDefault(); showError();
  const chosen = $("file").files[0];
  if (!chosen) { showError("choose a file first"); return; }
  const form = new FormData();
  form.append("file", chosen); form.append("purpose", "fine-tune");
  try {
    const file = await getJSON("/v1/files", {method: "POST", body: form});
    fileId = file.id;
    showFile(file);
    $("job-form").hidden = file.status === "error";
    if (file.status === "error") {      // the readers' message names the line; the doctor's checks need a readable file
      $("doctor-summary").textContent = "Fix it, then upload the file again.";
      $("findings").replaceChildren();
    } else await doctor(file.id);
  } catch (err) { showError(err); }
};

$("start").onsubmit = async (e) => {
  e.preventDefault(); showError();
  const method = $("method").value, hyper = $("epochs").value ? {n_epochs: +$("epochs").value} : {};
  try {
    const job = await postJSON("/v1/fine_tuning/jobs", {model: $("model").value, training_file: fileId,
      suffix: $("suffix").value || null, method: {type: method, [method]: {hyperparameters: hyper}}});
    watch(job.id);
  } catch (err) { showError(err); }
};

$("cancel").onclick = async () => {
  try { await postJSON("/v1/fine_tuning/jobs/" + jobId + "/cancel"); } catch (err) { showError(err); }
};

function watch(id) {
  jobId = id; lastEvent = null; totalSteps = 0;
  for (const k in points) points[k] = [];
  localStorage.setItem("selfclone.job", id);
  $("job").hidden = false; $("job-id").textContent = id; $("events").replaceChildren();
  clearInterval(timer);
  timer = setInterval(poll, 1000);
  poll();
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const job = await getJSON("/v1/fine_tuning/jobs/" + jobId);
    for (;;) {
      const page = await getJSON("/v1/fine_tuning/jobs/" + jobId + "/events?limit=100" + (lastEvent ? "&after=" + lastEvent : ""));
      for (const ev of page.data) take(ev);
      if (!page.has_more) break;
    }
    const step = Math.max(0, ...Object.values(points).flat().map((p) => p[0]));
    $("job-status").textContent = job.status + (job.fine_tuned_model ? ": " + job.fine_tuned_model : "") +
                                  (job.error ? ": " + job.error.message : "");
    if (job.status === "succeeded") { $("progress").max = 1; $("progress").value = 1; }
    else if (totalSteps) { $("progress").max = totalSteps; $("progress").value = step; }
    $("job-step").textContent = totalSteps ? "step " + step + " of " + totalSteps : "";
    draw("loss", ["train_loss", "valid_loss"]);
    draw("accuracy", ["train_mean_token_accuracy", "valid_mean_token_accuracy"]);
    const over = ["succeeded", "failed", "cancelled"].includes(job.status);
    $("cancel").hidden = over;
    if (over) clearInterval(timer);
  } catch (err) { showError(err); clearInterval(timer); }
  polling = false;
}

function take(ev) {
  lastEvent = ev.id;
  const started = /training started: (\d+) steps/.exec(ev.message);
  if (started) totalSteps = +started[1];
  if (ev.data && ev.data.total_steps) totalSteps = ev.data.total_steps;
  if (ev.type === "metrics" && ev.data) {
    for (const k in points) if (ev.data[k] !== null && ev.data[k] !== undefined) points[k].push([ev.data.step, ev.data[k]]);
    return;
  }
  const list = $("events");
  list.appendChild(element("li", {className: ev.level === "error" ? "finding error" : "", textContent: ev.message}));
  while (list.children.length > 8) list.firstChild.remove();
}

(async () => {
  const info = await getJSON("/web/info");
  $("model").value = info.model;
  if (jobId) { try { await getJSON("/v1/fine_tuning/jobs/" + jobId); watch(jobId); } catch { localStorage.removeItem("selfclone.job"); } }
})();
