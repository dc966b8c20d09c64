// One lecture: player, speech timeline (click to seek), probability curve, speed, skip silence,
// bookmarks, downloads. Students of the lecture's course see the same page, less the owner's
// actions. Nothing is drawn while nothing changes: the curve is drawn once, and only the
// playheads move, from a frame loop that runs while the audio plays.
import { api } from "./api.js";
import { clock, drawCurve, h, mount } from "./dom.js";
import { stopRecording } from "./recorder.js";
import { recording } from "./recording.js";

const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];

// Where playback should jump to when skipping silence at time t (null: t is inside speech).
export function skipTarget(segments, t, duration) {
  for (const [start, end] of segments) {
    if (t < start) return start;
    if (t < end) return null;
  }
  return duration;
}

const AXIS_TICKS = 4; // labelled times under the timeline per screen width, besides 0
const ZOOMS = [1, 2, 4, 8, 16]; // timeline widths, in screen widths
const CURVE_WIDTH = 900; // canvas pixels per screen width

function timeline(regions, audio) {
  const duration = regions.duration_s || 1;
  const at = (t) => `${Math.min(100, (t / duration) * 100)}%`;
  const playhead = h("div", { class: "playhead" });
  const marks = h("div", { class: "marks" });
  const bar = h("div", { class: "timeline", id: "timeline", title: "click to seek" }, playhead,
    marks);
  for (const [start, end] of regions.segments) {
    const block = h("button", { type: "button", class: "region", dataset: { start, end },
      title: `${clock(start)}–${clock(end)}`,
      "aria-label": `Play speech from ${clock(start)} to ${clock(end)}` });
    block.style.left = at(start);
    block.style.width = `${Math.max(0.2, ((end - start) / duration) * 100)}%`;
    bar.append(block);
  }
  bar.addEventListener("click", (e) => {
    const box = bar.getBoundingClientRect();
    const region = e.target.closest(".region");
    audio.currentTime = region ? Number(region.dataset.start)
      : ((e.clientX - box.left) / box.width) * duration;
  });
  const axis = h("div", { class: "axis", "aria-hidden": "true" });
  const showTicks = (count) => axis.replaceChildren(...Array.from({ length: count + 1 }, (_, k) => {
    const tick = h("span", { class: "tick" }, clock((k / count) * regions.duration_s));
    tick.style.left = at((k / count) * duration);
    return tick;
  }));
  const asText = h("details", { id: "regions-text" },
    h("summary", {}, "Speech regions as a list"),
    h("ol", {}, ...regions.segments.map(([start, end]) =>
      h("li", {}, `${clock(start)} – ${clock(end)} (${Math.round(end - start)} s)`))));
  // Bookmarks drawn on the timeline (called whenever the list changes).
  const showMarks = (list) => marks.replaceChildren(...list.map((m) => {
    const mark = h("span", { class: "marker", title: `${clock(m.t)} ${m.note}` });
    mark.style.left = at(m.t);
    return mark;
  }));
  const curve = h("canvas", { id: "curve", width: String(CURVE_WIDTH), height: "100",
    "aria-label": "speech probability over the lecture" });
  const curveHead = h("div", { class: "playhead" });
  const wrap = h("div", { class: "curve" }, curve, curveHead);
  const content = h("div", { class: "zoom-content" }, bar, axis, wrap);
  const viewport = h("div", { class: "zoom-viewport", id: "timeline-viewport" }, content);
  // Keeps time t on screen (centred if it was off screen).
  const follow = (t) => {
    const x = (t / duration) * content.offsetWidth;
    if (x < viewport.scrollLeft || x > viewport.scrollLeft + viewport.clientWidth) {
      viewport.scrollLeft = x - viewport.clientWidth / 2;
    }
  };
  // Zoom: the content gets wider, the curve is drawn again at its new width (only here).
  const setZoom = (factor) => {
    content.style.width = `${factor * 100}%`;
    curve.width = CURVE_WIDTH * factor;
    drawCurve(curve, regions.curve);
    showTicks(Math.max(1, Math.min(AXIS_TICKS * factor, Math.floor(duration)))); // whole s
    follow(audio.currentTime);
  };
  const zoom = h("select", { id: "zoom" }, ...ZOOMS.map((z) =>
    h("option", { value: String(z) }, `${z}×`)));
  zoom.addEventListener("change", () => setZoom(Number(zoom.value)));
  setZoom(1);
  const move = (t) => {
    const left = `${Math.min(100, (t / duration) * 100)}%`;
    playhead.style.left = curveHead.style.left = left;
    if (zoom.value !== "1") follow(t);
  };
  const zoomControl = h("label", { class: "inline" }, "Zoom ", zoom);
  return { view: viewport, zoomControl, asText, move, showMarks };
}

// Runs `step` on every animation frame while the audio plays, and once after a seek or pause.
function whilePlaying(audio, step) {
  let frame = 0;
  const loop = () => {
    step();
    frame = audio.paused ? 0 : requestAnimationFrame(loop);
  };
  const kick = () => { if (!frame) frame = requestAnimationFrame(loop); };
  for (const type of ["play", "seeked", "pause", "loadedmetadata"]) {
    audio.addEventListener(type, kick);
  }
  return () => cancelAnimationFrame(frame);
}

// Position, speed and skip-silence, kept per user and lecture in this browser.
function remembered(user, lecture) {
  const key = `classrec.player.${user.id}.${lecture.id}`;
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(key)) || {}; } catch { /* none yet */ }
  return { saved, save: (values) => localStorage.setItem(key, JSON.stringify(values)) };
}

function bookmarks(lecture, audio, showMarks) {
  const list = h("ul", { class: "bookmarks", id: "bookmarks" });
  const note = h("input", { id: "bookmark-note", maxlength: "2000", placeholder: "Note",
    "aria-label": "Bookmark note" });
  const base = `/api/lectures/${lecture.id}/bookmarks`;
  const item = (m) => h("li", {},
    h("button", { class: "link", onclick: () => { audio.currentTime = m.t; },
      "aria-label": `Play from ${clock(m.t)}` }, clock(m.t)),
    " ", h("span", {}, m.note), " ",
    h("button", { class: "small secondary", "aria-label": `Delete the bookmark at ${clock(m.t)}`,
      onclick: async () => {
        await api("DELETE", `${base}/${m.id}`);
        show(await api("GET", base));
      } }, "×"));
  const show = (marks) => {
    list.replaceChildren(...marks.map(item));
    showMarks(marks);
  };
  const form = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    await api("POST", base, { t: audio.currentTime, note: note.value });
    note.value = "";
    show(await api("GET", base));
  } }, note, h("button", { type: "submit", id: "add-bookmark" }, "Bookmark current time"));
  api("GET", base).then(show);
  return h("section", {}, h("h2", {}, "Bookmarks"), form, list);
}

// Speech-only files are cut on first request (seconds for a long lecture), so they are fetched
// here, with a status line, and handed to the browser as a download when they arrive.
function speechOnlyLink(base, format, status) {
  const name = `Speech only (${format.toUpperCase()})`;
  const link = h("a", { href: `${base}/speech-only?format=${format}`, download: "",
    class: "button secondary", id: `dl-speech-${format}` }, name);
  link.addEventListener("click", async (event) => {
    if (link.dataset.ready) return; // the second, synthetic click: let the browser save it
    event.preventDefault();
    status.textContent = `Preparing ${name}…`;
    try {
      const response = await fetch(link.href, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`could not prepare it (${response.status})`);
      const url = URL.createObjectURL(await response.blob());
      const save = h("a", { href: url, download: link.href.includes("mp3")
        ? "speech-only.mp3" : "speech-only.wav", dataset: { ready: "1" } });
      const disposition = response.headers.get("content-disposition") || "";
      const named = disposition.match(/filename="?([^";]+)"?/);
      if (named) save.download = named[1];
      save.click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = `${name}: downloaded.`;
    } catch (e) {
      status.textContent = `${name}: ${e.message}`;
    }
  });
  return link;
}

function downloads(lecture) {
  const base = `/api/lectures/${lecture.id}`;
  const link = (href, text, id) => h("a", { href, download: "", class: "button secondary", id }, text);
  const status = h("p", { id: "download-status", role: "status", class: "muted" });
  return h("section", {}, h("h2", {}, "Downloads"), h("div", { class: "row" },
    link(`${base}/original`, "Original", "dl-original"),
    speechOnlyLink(base, "wav", status), speechOnlyLink(base, "mp3", status),
    ...["json", "csv", "rttm", "srt"].map((f) =>
      link(`${base}/segments?format=${f}`, f.toUpperCase(), `dl-${f}`))), status);
}

function rerender() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

// Owner's way out of a recording nobody feeds any more: go on with it, or stop and keep it.
function recordingActions(lecture) {
  const message = h("p", { id: "stuck-message", role: "status" });
  const stop = h("button", { type: "button", id: "stop-stuck", class: "danger", onclick: async () => {
    stop.disabled = true;
    message.textContent = "Stopping…";
    try {
      await stopRecording(lecture.id);
      rerender();
    } catch (e) {
      message.textContent = e.message;
      stop.disabled = false;
    }
  } }, "Stop and save");
  return [h("div", { class: "row" },
    h("a", { href: `#/record/${lecture.id}`, class: "button", id: "continue-recording" },
      "Continue recording"),
    lecture.status === "recording" ? stop : null), message];
}

function recordingView(lecture, owner) {
  const here = recording.active && recording.lectureId === lecture.id;
  const text = here ? "This lecture is being recorded in this tab."
    : owner ? "This lecture's recorder was closed or lost its connection. Continue recording "
      + "into it, or stop it to keep what was recorded."
      : "This lecture is still being recorded.";
  mount(h("section", { class: "card" }, h("h1", { id: "lecture-title" }, lecture.title),
    h("p", {}, text),
    here ? h("a", { href: "#/record", class: "button" }, "Back to the recorder")
      : owner && recordingActions(lecture)));
  return null;
}

export async function lectureView(id, user) {
  const lecture = await api("GET", `/api/lectures/${id}`);
  const owner = lecture.owner_id === user.id;
  if (lecture.status === "recording") return recordingView(lecture, owner);
  if (lecture.status === "processing") {
    mount(h("section", { class: "card" }, h("h1", { id: "lecture-title" }, lecture.title),
      h("p", { id: "processing-message" }, "This upload is still being analysed. The ",
        h("a", { href: "#/library" }, "library"), " shows its progress.")));
    return null;
  }
  const regions = await api("GET", `/api/lectures/${id}/regions`);
  const { saved, save } = remembered(user, lecture);
  const audio = h("audio", { id: "player", controls: true, preload: "metadata",
    src: regions.audio_url });
  const line = timeline(regions, audio);
  const speed = h("select", { id: "speed" }, ...SPEEDS.map((s) =>
    h("option", { value: String(s), selected: s === (saved.speed || 1) }, `${s}×`)));
  const skip = h("input", { type: "checkbox", id: "skip-silence", checked: Boolean(saved.skip) });
  const keep = () => save({ t: audio.currentTime, speed: Number(speed.value), skip: skip.checked });
  speed.addEventListener("change", () => { audio.playbackRate = Number(speed.value); keep(); });
  skip.addEventListener("change", keep);
  // Back to where this user left off, unless they already moved (a bookmark or the timeline
  // clicked before the file's length was known): their seek wins over the saved place.
  audio.addEventListener("loadedmetadata", () => {
    const t = saved.t || 0;
    // (a lecture listened to the end starts again from the start)
    if (audio.currentTime === 0) audio.currentTime = t < regions.duration_s - 1 ? t : 0;
    audio.playbackRate = Number(speed.value);
  }, { once: true });
  audio.addEventListener("timeupdate", keep);

  const stopLoop = whilePlaying(audio, () => {
    const t = audio.currentTime;
    if (skip.checked && !audio.paused) {
      const target = skipTarget(regions.segments, t, regions.duration_s);
      if (target !== null && target - t > 0.05) audio.currentTime = target;
    }
    line.move(audio.currentTime);
  });

  const speechPct = Math.round(lecture.speech_ratio * 100);
  const interrupted = lecture.status === "interrupted";
  const badge = interrupted
    ? h("span", { class: "badge interrupted" }, "interrupted: saved up to the crash") : "";
  mount(h("section", { class: "card" },
    h("h1", { id: "lecture-title" }, lecture.title, " ", badge),
    h("p", { class: "muted" }, `${clock(lecture.duration_s)} · ${speechPct} % speech · `
      + `${regions.segments.length} speech regions`),
    interrupted && owner ? recordingActions(lecture) : null,
    audio,
    h("div", { class: "row" }, h("label", { class: "inline" }, "Speed ", speed),
      h("label", { class: "inline" }, skip, " Skip silence")),
    h("h2", {}, "Speech timeline"), line.view, // zoom after the regions: Tab reaches them first
    h("div", { class: "row" }, line.zoomControl), line.asText,
    bookmarks(lecture, audio, line.showMarks), downloads(lecture)));
  return () => {
    stopLoop();
    audio.pause();
  };
}
