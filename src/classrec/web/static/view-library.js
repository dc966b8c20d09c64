// The list of the user's lectures: open, rename, delete.
import { api } from "./api.js";
import { clock, h, mount } from "./dom.js";

function renameCell(lecture, titleLink) {
  const input = h("input", { value: lecture.title, maxlength: "200", class: "rename-input" });
  const save = h("button", { class: "small", onclick: async () => {
    const updated = await api("PATCH", `/api/lectures/${lecture.id}`, { title: input.value });
    titleLink.textContent = updated.title;
    editor.replaceWith(titleLink);
  } }, "Save");
  const editor = h("span", { class: "row" }, input, save);
  return editor;
}

function lectureRow(lecture, reload) {
  const link = h("a", { href: `#/lecture/${lecture.id}`, class: "title" }, lecture.title);
  const titleCell = h("td", {}, link);
  const del = h("button", { class: "small danger", onclick: async () => {
    if (del.dataset.armed !== "1") {
      del.dataset.armed = "1";
      del.textContent = "Really delete?";
      return;
    }
    await api("DELETE", `/api/lectures/${lecture.id}`);
    reload();
  } }, "Delete");
  const rename = h("button", { class: "small secondary", onclick: () => {
    link.replaceWith(renameCell(lecture, link));
  } }, "Rename");
  const status = lecture.status === "ready" ? "" : h("span", { class: `badge ${lecture.status}` },
    lecture.status);
  return h("tr", { dataset: { id: lecture.id } },
    titleCell,
    h("td", {}, new Date(lecture.created_at).toLocaleString()),
    h("td", { class: "num" }, clock(lecture.duration_s)),
    h("td", { class: "num speech-pct" }, `${Math.round(lecture.speech_ratio * 100)} %`),
    h("td", {}, status, " ", lecture.source === "live" ? "live" : "upload"),
    h("td", { class: "actions" }, rename, del));
}

export async function libraryView() {
  const body = h("tbody");
  const table = h("table", { class: "library" },
    h("thead", {}, h("tr", {}, ...["Title", "Date", "Duration", "Speech", "Kind", ""]
      .map((t) => h("th", {}, t)))), body);
  const empty = h("p", { class: "muted" }, "No lectures yet: record one or upload a file.");
  const reload = async () => {
    const lectures = await api("GET", "/api/lectures");
    body.replaceChildren(...lectures.map((l) => lectureRow(l, reload)));
    empty.hidden = lectures.length > 0;
  };
  mount(h("section", { class: "card" }, h("h1", {}, "Your lectures"), table, empty));
  await reload();
}
