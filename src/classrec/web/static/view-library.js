// The list of the user's lectures: open, rename, delete, continue an unfinished recording.
// Uploads still being analysed show a progress bar and an ETA, polled once a second.
import { api } from "./api.js";
import { clock, h, mount } from "./dom.js";
import { stopRecording } from "./recorder.js";
import { recording } from "./recording.js";

function renameCell(lecture, titleLink) {
  const input = h("input", { value: lecture.title, maxlength: "200", class: "rename-input",
    "aria-label": "New title", required: true });
  const error = h("span", { class: "error", role: "alert" });
  const save = h("button", { class: "small", onclick: async () => {
    try {
      const updated = await api("PATCH", `/api/lectures/${lecture.id}`, { title: input.value });
      lecture.title = titleLink.textContent = updated.title;
      editor.replaceWith(titleLink);
    } catch (e) {
      error.textContent = e.message;
    }
  } }, "Save");
  const editor = h("span", { class: "row" }, input, save, error);
  return editor;
}

// Delete asks once; a lecture still marked `recording` (its tab was closed) is stopped first,
// unless this tab is the one recording it.
function deleteButton(lecture, reload, error) {
  const del = h("button", { class: "small danger", onclick: async () => {
    if (del.dataset.armed !== "1") {
      del.dataset.armed = "1";
      del.textContent = "Really delete?";
      return;
    }
    try {
      if (recording.active && recording.lectureId === lecture.id) {
        throw new Error("this lecture is being recorded in this tab: stop it first");
      }
      if (lecture.status === "recording") await stopRecording(lecture.id);
      await api("DELETE", `/api/lectures/${lecture.id}`);
      reload();
    } catch (e) {
      error.textContent = e.message;
      del.dataset.armed = "";
      del.textContent = "Delete";
    }
  } }, "Delete");
  return del;
}

function lectureRow(lecture, reload) {
  const link = h("a", { href: `#/lecture/${lecture.id}`, class: "title" }, lecture.title);
  const error = h("span", { class: "error row-error", role: "alert" });
  const rename = h("button", { class: "small secondary", onclick: () => {
    if (link.isConnected) link.replaceWith(renameCell(lecture, link));
  } }, "Rename");
  const unfinished = lecture.status !== "ready";
  const status = unfinished ? h("span", { class: `badge ${lecture.status}` }, lecture.status) : "";
  const processing = lecture.status === "processing";
  const resume = unfinished && !processing && !(recording.active && recording.lectureId === lecture.id)
    ? h("a", { href: `#/record/${lecture.id}`, class: "button small", dataset: { continue: "" } },
      "Continue") : null;
  return h("tr", { dataset: { id: lecture.id } },
    h("td", {}, link, processing ? progressCell() : null, error),
    h("td", { class: "date" }, new Date(lecture.created_at).toLocaleString()),
    h("td", { class: "num" }, processing ? "…" : clock(lecture.duration_s)),
    h("td", { class: "num speech-pct" },
      processing ? "…" : `${Math.round(lecture.speech_ratio * 100)} %`),
    h("td", {}, status, " ", lecture.source === "live" ? "live" : "upload"),
    h("td", { class: "actions" }, resume, rename, deleteButton(lecture, reload, error)));
}

function progressCell() {
  return h("div", { class: "job" },
    h("progress", { class: "job-progress", max: "1", "aria-label": "analysis progress" }),
    h("span", { class: "job-eta muted", role: "status" }, "Processing…"));
}

// Shows the server's progress on each processing row; false once one of them has finished
// (the list is then reloaded to show it ready, or gone if its analysis failed).
function showProgress(body, jobs) {
  for (const row of body.querySelectorAll("tr")) {
    const bar = row.querySelector(".job-progress");
    if (!bar) continue;
    const job = jobs[row.dataset.id];
    if (!job) return false;
    if (job.fraction !== null) bar.value = job.fraction;
    const eta = job.eta_s === null ? "" : `, about ${clock(job.eta_s)} left`;
    row.querySelector(".job-eta").textContent = job.total_s
      ? `Processing: ${clock(job.done_s)} of ${clock(job.total_s)}${eta}`
      : `Processing: ${clock(job.done_s)} so far`;
  }
  return true;
}

export function lectureTable(rows) {
  const body = h("tbody", {}, rows);
  return [h("div", { class: "table-scroll" }, h("table", { class: "library" },
    h("thead", {}, h("tr", {}, ...["Title", "Date", "Duration", "Speech", "Kind", "Actions"]
      .map((t, i) => h("th", { class: i === 1 ? "date" : null }, t)))), body)), body];
}

export async function libraryView() {
  const [table, body] = lectureTable([]);
  const empty = h("p", { class: "muted" }, "No lectures yet: record one or upload a file. ",
    "Lectures shared with you are under ", h("a", { href: "#/courses" }, "Courses"), ".");
  let timer = 0;
  const poll = async () => {
    if (showProgress(body, await api("GET", "/api/lectures/progress"))) {
      timer = setTimeout(poll, 1000);
    } else {
      reload();
    }
  };
  const reload = async () => {
    const lectures = await api("GET", "/api/lectures");
    body.replaceChildren(...lectures.map((l) => lectureRow(l, reload)));
    empty.hidden = lectures.length > 0;
    clearTimeout(timer);
    if (lectures.some((l) => l.status === "processing")) timer = setTimeout(poll, 300);
  };
  mount(h("section", { class: "card" }, h("h1", {}, "Your lectures"), table, empty));
  await reload();
  return () => clearTimeout(timer);
}
