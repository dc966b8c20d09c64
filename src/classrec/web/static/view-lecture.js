// One lecture: player, speech timeline (click to seek), probability curve, speed, skip silence,
// bookmarks, downloads.
import { api } from "./api.js";
import { clock, drawCurve, h, mount } from "./dom.js";

const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];

// Where playback should jump to when skipping silence at time t (null: t is inside speech).
export function skipTarget(segments, t, duration) {
  for (const [start, end] of segments) {
    if (t < start) return start;
    if (t < end) return null;
  }
  return duration;
}

function timeline(regions, audio) {
  const duration = regions.duration_s || 1;
  const playhead = h("div", { class: "playhead" });
  const bar = h("div", { class: "timeline", id: "timeline", title: "click to seek" }, playhead);
  for (const [start, end] of regions.segments) {
    const block = h("div", { class: "region", dataset: { start, end },
      title: `${clock(start)}–${clock(end)}` });
    block.style.left = `${(start / duration) * 100}%`;
    block.style.width = `${Math.max(0.2, ((end - start) / duration) * 100)}%`;
    bar.append(block);
  }
  bar.addEventListener("click", (e) => {
    const box = bar.getBoundingClientRect();
    const region = e.target.closest(".region");
    audio.currentTime = region ? Number(region.dataset.start)
      : ((e.clientX - box.left) / box.width) * duration;
  });
  return { bar, move: (t) => { playhead.style.left = `${(t / duration) * 100}%`; } };
}

function bookmarks(lecture, audio) {
  const list = h("ul", { class: "bookmarks", id: "bookmarks" });
  const note = h("input", { id: "bookmark-note", maxlength: "2000", placeholder: "Note" });
  const base = `/api/lectures/${lecture.id}/bookmarks`;
  const show = (marks) => list.replaceChildren(...marks.map((m) => h("li", {},
    h("button", { class: "link", onclick: () => { audio.currentTime = m.t; } }, clock(m.t)),
    " ", h("span", {}, m.note), " ",
    h("button", { class: "small secondary", onclick: async () => {
      await api("DELETE", `${base}/${m.id}`);
      show(await api("GET", base));
    } }, "×"))));
  const form = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    await api("POST", base, { t: audio.currentTime, note: note.value });
    note.value = "";
    show(await api("GET", base));
  } }, note, h("button", { type: "submit", id: "add-bookmark" }, "Bookmark current time"));
  api("GET", base).then(show);
  return h("section", {}, h("h2", {}, "Bookmarks"), form, list);
}

function downloads(lecture) {
  const base = `/api/lectures/${lecture.id}`;
  const link = (href, text, id) => h("a", { href, download: "", class: "button secondary", id }, text);
  return h("section", {}, h("h2", {}, "Downloads"), h("div", { class: "row" },
    link(`${base}/original`, "Original", "dl-original"),
    link(`${base}/speech-only`, "Speech only (WAV)", "dl-speech"),
    ...["json", "csv", "rttm", "srt"].map((f) =>
      link(`${base}/segments?format=${f}`, f.toUpperCase(), `dl-${f}`))));
}

export async function lectureView(id) {
  const lecture = await api("GET", `/api/lectures/${id}`);
  if (lecture.status === "recording") {
    mount(h("section", { class: "card" }, h("h1", {}, lecture.title),
      h("p", {}, "This lecture is still being recorded.")));
    return null;
  }
  const regions = await api("GET", `/api/lectures/${id}/regions`);
  const audio = h("audio", { id: "player", controls: true, preload: "metadata",
    src: `/api/lectures/${id}/audio` });
  const line = timeline(regions, audio);
  const curve = h("canvas", { id: "curve", width: "900", height: "100" });
  const speed = h("select", { id: "speed" }, ...SPEEDS.map((s) =>
    h("option", { value: String(s), selected: s === 1 }, `${s}×`)));
  const skip = h("input", { type: "checkbox", id: "skip-silence" });
  speed.addEventListener("change", () => { audio.playbackRate = Number(speed.value); });

  let frame = 0;
  const tick = () => {
    const t = audio.currentTime;
    if (skip.checked && !audio.paused) {
      const target = skipTarget(regions.segments, t, regions.duration_s);
      if (target !== null && target - t > 0.05) audio.currentTime = target;
    }
    line.move(audio.currentTime);
    drawCurve(curve, regions.curve, { highlight: audio.currentTime / (regions.duration_s || 1) });
    frame = requestAnimationFrame(tick);
  };
  frame = requestAnimationFrame(tick);

  const speechPct = Math.round(lecture.speech_ratio * 100);
  const badge = lecture.status === "interrupted"
    ? h("span", { class: "badge interrupted" }, "interrupted: saved up to the crash") : "";
  mount(h("section", { class: "card" },
    h("h1", { id: "lecture-title" }, lecture.title, " ", badge),
    h("p", { class: "muted" }, `${clock(lecture.duration_s)} · ${speechPct} % speech · `
      + `${regions.segments.length} speech regions`),
    audio,
    h("div", { class: "row" }, h("label", { class: "inline" }, "Speed ", speed),
      h("label", { class: "inline" }, skip, " Skip silence")),
    h("h2", {}, "Speech timeline"), line.bar, curve,
    bookmarks(lecture, audio), downloads(lecture)));
  return () => {
    cancelAnimationFrame(frame);
    audio.pause();
  };
}
