// Mic check (device, level) then live recording: probability trace, speech indicator, elapsed
// time, storage left, pause/resume/stop, automatic reconnection. The recording itself lives in
// recording.js; this view only shows it, so leaving the view does not stop it.
import { api } from "./api.js";
import { bytes, clock, drawCurve, h, mount } from "./dom.js";
import { listInputs, SAMPLE_RATE } from "./recorder.js";
import { recording } from "./recording.js";

const INDICATOR = { null: "Not recording", true: "Speech", false: "Silence" };

function indicatorState(rec) {
  if (rec.state === "paused") return ["paused", "Paused"];
  if (rec.state === "stopped") return ["stopped", "Stopped"];
  if (rec.speech === null) return ["idle", INDICATOR.null];
  return rec.speech ? ["speech", INDICATOR.true] : ["silence", INDICATOR.false];
}

function showControls(ui, rec, continuing) {
  ui.check.disabled = ui.device.disabled = rec.active;
  ui.title.disabled = rec.active || Boolean(continuing);
  ui.start.hidden = rec.active;
  ui.start.disabled = rec.state !== "ready";
  ui.pause.hidden = ui.stop.hidden = !rec.active;
  ui.pause.disabled = ui.stop.disabled = !rec.canPause;
  ui.pause.textContent = rec.state === "paused" ? "Resume" : "Pause";
}

function showStatus(ui, rec) {
  const [state, text] = indicatorState(rec);
  ui.indicator.dataset.state = state;
  ui.indicator.className = `indicator ${state}`;
  ui.indicator.textContent = text;
  ui.elapsed.textContent = clock(rec.elapsed);
  ui.connection.textContent = rec.connection === "reconnecting"
    ? `reconnecting (${bytes(rec.uplink.total - rec.uplink.acked)} waiting)…` : rec.connection;
  ui.connection.dataset.state = rec.connection;
  if (rec.free !== undefined) {
    ui.storage.textContent = `${bytes(rec.free)} (≈ ${clock(rec.free / (SAMPLE_RATE * 2))} of audio)`;
  }
  if (rec.state === "stopped") {
    ui.message.replaceChildren(`Saved ${clock(rec.result.duration_s)}. `,
      h("a", { href: `#/lecture/${rec.result.lecture_id}`, id: "open-lecture" }, "Open the lecture"));
  } else {
    ui.message.textContent = rec.message;
  }
}

async function listDevices(select) {
  const current = select.value;
  const inputs = await listInputs();
  select.replaceChildren(...inputs.map((d, i) =>
    h("option", { value: d.deviceId }, d.label || `Microphone ${i + 1}`)));
  if (current) select.value = current;
}

// `continueId`: the lecture to add audio to (interrupted, or left recording by a closed tab).
export async function recordView(continueId = null) {
  const rec = recording;
  const continuing = rec.active ? null
    : continueId && await api("GET", `/api/lectures/${continueId}`);
  const ui = {
    device: h("select", { id: "device" }),
    meter: h("div", { class: "meter-fill", id: "level" }),
    title: h("input", { id: "title", maxlength: "200",
      value: continuing ? continuing.title : `Lecture ${new Date().toLocaleDateString()}` }),
    check: h("button", { type: "button", id: "mic-check" }, "Check microphone"),
    start: h("button", { type: "button", id: "start" },
      continuing ? "Continue recording" : "Start recording"),
    pause: h("button", { type: "button", id: "pause", class: "secondary" }, "Pause"),
    stop: h("button", { type: "button", id: "stop", class: "danger" }, "Stop"),
    indicator: h("div", { id: "speech-indicator", class: "indicator" }),
    elapsed: h("span", { id: "elapsed" }),
    storage: h("span", { id: "storage" }, "–"),
    connection: h("span", { id: "connection" }),
    trace: h("canvas", { id: "trace", width: "800", height: "120",
      "aria-label": "speech probability, last ten seconds" }),
    message: h("p", { id: "record-message", role: "status" }),
  };
  if (rec.active) ui.title.value = rec.title;

  ui.check.addEventListener("click", async () => {
    await rec.openMic(ui.device.value);
    if (rec.state === "ready") await listDevices(ui.device);
  });
  ui.device.addEventListener("change", () => rec.openMic(ui.device.value));
  ui.start.addEventListener("click", () => rec.start(continuing
    ? { lectureId: continuing.id } : { title: ui.title.value.trim() || "Live lecture" }));
  ui.pause.addEventListener("click", () => rec.togglePause());
  ui.stop.addEventListener("click", () => rec.stop());

  const update = (r, change) => {
    ui.meter.style.width = `${Math.min(100, Math.sqrt(r.level) * 140)}%`;
    if (change === "level") {
      ui.elapsed.textContent = clock(r.elapsed);
      return;
    }
    if (change === "probs") drawCurve(ui.trace, r.probs);
    showControls(ui, r, continuing);
    showStatus(ui, r);
  };

  mount(h("section", { class: "card" },
    h("h1", {}, continuing ? `Continue “${continuing.title}”` : "Record a lecture"),
    h("div", { class: "grid" },
      h("label", {}, "Microphone", ui.device),
      h("label", {}, "Title", ui.title)),
    h("div", { class: "meter", title: "input level" }, ui.meter),
    h("div", { class: "row" }, ui.check, ui.start, ui.pause, ui.stop),
    ui.message,
    h("div", { class: "row status" }, ui.indicator,
      h("span", {}, "Elapsed ", ui.elapsed), h("span", {}, "Storage left ", ui.storage),
      h("span", {}, "Connection ", ui.connection)),
    ui.trace));
  drawCurve(ui.trace, rec.probs);
  const unsubscribe = rec.subscribe(update);
  return () => {
    unsubscribe();
    rec.leaveView();
  };
}
