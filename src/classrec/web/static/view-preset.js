// The user's segmentation preset (how their lectures are cut into speech regions, and when the
// live page's speech light is on): a room picked by name, a preset file written by
// `classrec tune`, or one the server tunes on a labelled sample of the user's own audio. It
// applies to every lecture the user owns, uploaded or recorded, including those already stored
// (their probabilities are kept).
import { api } from "./api.js";
import { bytes, h } from "./dom.js";

const POLL_MS = 400;
const RESTARTED = "The tuning stopped (the server restarted): send the sample again.";
const SCORES = [["frame_f1", "frame F1"], ["segment_f1", "segment F1"],
  ["false_alarms_per_hour", "false alarms / h"]];

function summary(preset) {
  const o = preset.options;
  const tuned = preset.name === "tuned" && preset.about;
  const from = tuned ? ` (tuned on ${preset.about.tuned_on})` : "";
  return `Using “${preset.name}”${from}: speech starts at probability ${o.threshold}, `
    + `pieces shorter than ${o.min_speech_ms} ms are dropped.`;
}

function score(value, key) {
  if (value === null || value === undefined) return "–";
  return key === "false_alarms_per_hour" ? value.toFixed(0) : value.toFixed(3);
}

// The tuned options against the defaults, scored on the sample they were tuned on: one column
// per preset, so it fits the narrow card.
function scoreTable(about) {
  const settings = [["threshold", (o) => String(o.threshold)],
    ["min speech ms", (o) => String(o.min_speech_ms)],
    ["min silence ms", (o) => String(o.min_silence_ms)],
    ["pads ms (before / after)", (o) => `${o.pad_before_ms} / ${o.pad_after_ms}`]];
  const line = (label, cells) => h("tr", {}, h("th", { scope: "row" }, label), ...cells);
  return h("div", { id: "tune-table-box" },
    h("table", { class: "library", id: "tune-table" },
      h("thead", {}, h("tr", {}, h("th", {}, ""),
        ...about.table.map((col) => h("th", { scope: "col" }, col.name)))),
      h("tbody", {},
        ...SCORES.map(([key, label]) => line(label, about.table.map((col) =>
          h("td", { dataset: { row: col.name, score: key } }, score(col.scores[key], key))))),
        ...settings.map(([label, cell]) => line(label, about.table.map((col) =>
          h("td", {}, cell(col.options))))))),
    h("p", { class: "muted" }, `${about.options_tried} settings tried on ${about.duration_s} s `
      + `of ${about.tuned_on} (labels ${about.labels}); scored on that same sample.`));
}

function progressText(job) {
  if (job.phase === "decoding") {
    const part = job.fraction === null ? "" : ` ${Math.round(job.fraction * 100)} %`;
    return `Tuning on ${job.audio}: running the model…${part}`;
  }
  return `Tuning on ${job.audio}: trying options… ${Math.round(job.fraction * 100)} %`;
}

// The "tune on a labelled sample" form; `show` redraws the card with a saved preset. The size is
// checked before anything is sent (the server refuses a larger body unread, as for uploads).
function sampleForm(status, show, maxUploadBytes) {
  const audio = h("input", { type: "file", id: "tune-audio", accept: "audio/*,video/*" });
  const labels = h("input", { type: "file", id: "tune-labels", accept: ".rttm,.txt,.json,.csv" });
  const objective = h("select", { id: "tune-objective" },
    h("option", { value: "frame_f1" }, "frame F1 (keep all the speech)"),
    h("option", { value: "segment_f1" }, "segment F1 (one region per utterance)"));
  const button = h("button", { type: "submit", id: "tune-start" }, "Tune on this sample");
  const progress = h("progress", { id: "tune-progress", max: "1", hidden: true,
    "aria-label": "tuning progress" });
  const fail = (message) => {
    status.className = "error";
    status.textContent = message;
  };
  const busy = (on) => {
    button.disabled = on;
    progress.hidden = !on;
    if (on) progress.removeAttribute("value");
  };
  const showProgress = (job) => {
    status.className = "";
    status.textContent = progressText(job);
    if (job.fraction !== null) progress.value = job.fraction;
  };
  // After a reload: follow a tuning still running on the server, then show how it ended.
  const resume = async () => {
    busy(true);
    try {
      let job = await api("GET", "/api/me/preset/sample");
      while (job.state === "running") {
        showProgress(job);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        job = await api("GET", "/api/me/preset/sample");
      }
      if (job.state === "failed") fail(job.error);
      else if (job.state === "none") fail(RESTARTED);
      else show(await api("GET", "/api/me/preset"));
    } catch (e) {
      fail(e.message);
    }
    busy(false);
  };
  const form = h("form", { id: "tune-form", onsubmit: async (event) => {
    event.preventDefault();
    if (!audio.files[0] || !labels.files[0]) return fail("Choose the audio and its labels first.");
    const size = audio.files[0].size + labels.files[0].size;
    if (maxUploadBytes && size > maxUploadBytes) {
      return fail(`The sample is ${bytes(size)}: the limit is ${bytes(maxUploadBytes)}.`);
    }
    const body = new FormData();
    body.append("audio", audio.files[0]);
    body.append("labels", labels.files[0]);
    body.append("objective", objective.value);
    status.className = "";
    status.textContent = `Sending ${audio.files[0].name}…`;
    busy(true);
    // the answer comes once the preset is saved; meanwhile show the server's progress
    let sending = true;
    const timer = setInterval(async () => {
      const job = await api("GET", "/api/me/preset/sample").catch(() => null);
      if (sending && job && job.state === "running") showProgress(job);
    }, POLL_MS);
    try {
      show(await api("POST", "/api/me/preset/sample", body));
    } catch (e) {
      fail(e.message);
    }
    sending = false;
    clearInterval(timer);
    busy(false);
  } },
    h("h3", {}, "Or tune one on a labelled sample"),
    h("p", { class: "muted" }, "A few minutes of your own room's audio and its speech labels "
      + "(RTTM, Audacity labels, or JSON/CSV as classrec writes them): the server tries the "
      + "settings classrec tune tries, keeps the best and uses it for your lectures."),
    h("label", {}, "Audio", audio), h("label", {}, "Labels", labels),
    h("label", {}, "Best for", objective), button, progress);
  busy(false);
  api("GET", "/api/me/preset/sample").then((job) => job.state === "running" && resume(),
    () => {});
  return form;
}

export function presetCard({ maxUploadBytes } = {}) {
  const room = h("select", { id: "preset-room" });
  const file = h("input", { type: "file", id: "preset-file", accept: ".json,application/json" });
  const status = h("p", { id: "preset-status", role: "status" });
  const table = h("div", { id: "tune-result" });
  const show = (preset) => {
    const custom = ["uploaded", "tuned"].includes(preset.name);
    const names = custom ? [...preset.rooms, preset.name] : preset.rooms;
    room.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
    room.value = preset.name;
    status.className = "";
    status.textContent = summary(preset);
    table.replaceChildren(...(preset.name === "tuned" && preset.about
      ? [scoreTable(preset.about)] : []));
  };
  const save = async (body) => {
    status.className = "";
    status.textContent = "Saving…";
    try {
      show(await api("PUT", "/api/me/preset", body));
    } catch (e) {
      status.className = "error";
      status.textContent = e.message;
    }
  };
  room.addEventListener("change", () => !["uploaded", "tuned"].includes(room.value)
    && save({ name: room.value }));
  file.addEventListener("change", async () => {
    if (file.files[0]) await save({ file: await file.files[0].text() });
    file.value = "";
  });
  api("GET", "/api/me/preset").then(show, (e) => { status.textContent = e.message; });
  return h("section", { class: "card narrow", id: "preset" },
    h("h2", {}, "Speech detection preset"),
    h("p", { class: "muted" }, "How your lectures, uploaded or recorded, are cut into speech, "
      + "and when the speech light is on while you record. Noisy room: fewer false alarms from "
      + "fans and chairs; quiet room: keeps soft voices."),
    h("label", {}, "Room", room),
    h("label", {}, "Or a preset file from classrec tune", file),
    sampleForm(status, show, maxUploadBytes),
    status, table);
}
