// Mic check (device, level) then live recording: probability trace, speech indicator, elapsed
// time, storage left, pause/resume/stop, automatic reconnection.
import { api } from "./api.js";
import { bytes, clock, drawCurve, h, mount } from "./dom.js";
import { LiveUplink, listInputs, Microphone, SAMPLE_RATE } from "./recorder.js";

const TRACE_WINDOWS = 312; // ten seconds of 32 ms windows

export async function recordView() {
  const mic = new Microphone();
  const ui = {
    device: h("select", { id: "device" }),
    meter: h("div", { class: "meter-fill", id: "level" }),
    title: h("input", { id: "title", maxlength: "200", value: `Lecture ${new Date().toLocaleDateString()}` }),
    check: h("button", { type: "button", id: "mic-check" }, "Check microphone"),
    start: h("button", { type: "button", id: "start", disabled: true }, "Start recording"),
    pause: h("button", { type: "button", id: "pause", class: "secondary", hidden: true }, "Pause"),
    stop: h("button", { type: "button", id: "stop", class: "danger", hidden: true }, "Stop"),
    indicator: h("div", { id: "speech-indicator", class: "indicator idle", dataset: { state: "idle" } }, "Not recording"),
    elapsed: h("span", { id: "elapsed" }, "00:00"),
    storage: h("span", { id: "storage" }, "–"),
    connection: h("span", { id: "connection" }, "–"),
    trace: h("canvas", { id: "trace", width: "800", height: "120" }),
    message: h("p", { id: "record-message", role: "status" }),
  };
  const rec = { uplink: null, paused: false, samples: 0, probs: [] };

  const setIndicator = (speech) => {
    ui.indicator.dataset.state = speech ? "speech" : "silence";
    ui.indicator.className = `indicator ${speech ? "speech" : "silence"}`;
    ui.indicator.textContent = speech ? "Speech" : "Silence";
  };
  const onChunk = (pcm, level) => {
    ui.meter.style.width = `${Math.min(100, Math.sqrt(level) * 140)}%`;
    if (!rec.uplink || rec.paused || rec.uplink.stopping) return;
    rec.uplink.push(pcm);
    rec.samples += pcm.length;
    ui.elapsed.textContent = clock(rec.samples / SAMPLE_RATE);
  };
  const openMic = async () => {
    try {
      await mic.open(ui.device.value, onChunk);
      const inputs = await listInputs();
      const current = ui.device.value;
      ui.device.replaceChildren(...inputs.map((d, i) =>
        h("option", { value: d.deviceId }, d.label || `Microphone ${i + 1}`)));
      if (current) ui.device.value = current;
      ui.start.disabled = false;
      ui.message.textContent = "Speak: the bar should move. Then start recording.";
    } catch (e) {
      ui.message.textContent = `Microphone unavailable: ${e.message}`;
    }
  };
  const showStorage = (free) => {
    if (free !== undefined) {
      ui.storage.textContent = `${bytes(free)} (≈ ${clock(free / (SAMPLE_RATE * 2))} of audio)`;
    }
  };

  ui.check.addEventListener("click", openMic);
  ui.device.addEventListener("change", openMic);
  ui.start.addEventListener("click", async () => {
    const lecture = await api("POST", "/api/lectures", { title: ui.title.value || "Live lecture" });
    rec.lectureId = lecture.id;
    rec.uplink = new LiveUplink(lecture.id, {
      onProbs: (msg) => {
        rec.probs.push(...msg.probs);
        rec.probs.splice(0, Math.max(0, rec.probs.length - TRACE_WINDOWS));
        drawCurve(ui.trace, rec.probs);
        setIndicator(msg.speech);
        showStorage(msg.free_bytes);
      },
      onState: (state, info) => {
        ui.connection.textContent = state === "reconnecting"
          ? `reconnecting (${bytes(info.pending)} waiting)…` : state;
        ui.connection.dataset.state = state;
        if (state === "connected") showStorage(info.free_bytes);
        if (state === "failed") ui.message.textContent = `Recording failed: ${info.message}`;
      },
      onStopped: (msg) => {
        mic.close();
        ui.indicator.dataset.state = "stopped";
        ui.message.replaceChildren(`Saved ${clock(msg.duration_s)}. `,
          h("a", { href: `#/lecture/${msg.lecture_id}`, id: "open-lecture" }, "Open the lecture"));
      },
      onError: (msg) => { ui.message.textContent = msg.message; },
    });
    window.classrec = { uplink: rec.uplink, lectureId: lecture.id };
    for (const el of [ui.start, ui.check, ui.device, ui.title]) el.disabled = true;
    ui.pause.hidden = ui.stop.hidden = false;
    setIndicator(false);
  });
  ui.pause.addEventListener("click", () => {
    rec.paused = !rec.paused;
    ui.pause.textContent = rec.paused ? "Resume" : "Pause";
    ui.indicator.dataset.state = rec.paused ? "paused" : ui.indicator.dataset.state;
    if (rec.paused) ui.indicator.textContent = "Paused";
  });
  ui.stop.addEventListener("click", () => {
    ui.pause.disabled = ui.stop.disabled = true;
    ui.message.textContent = "Saving…";
    rec.uplink.stop();
  });

  mount(h("section", { class: "card" },
    h("h1", {}, "Record a lecture"),
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
  return () => {
    if (rec.uplink && !rec.uplink.closed) rec.uplink.stop();
    mic.close();
  };
}
