// The user's segmentation preset (how their lectures are cut into speech regions): a room picked
// by name, or a preset file written by `classrec tune`. It applies to every lecture the user
// owns, uploaded or recorded, including those already stored (their probabilities are kept).
import { api } from "./api.js";
import { h } from "./dom.js";

function summary(preset) {
  const o = preset.options;
  return `Using “${preset.name}”: speech starts at probability ${o.threshold}, `
    + `pieces shorter than ${o.min_speech_ms} ms are dropped.`;
}

export function presetCard() {
  const room = h("select", { id: "preset-room" });
  const file = h("input", { type: "file", id: "preset-file", accept: ".json,application/json" });
  const status = h("p", { id: "preset-status", role: "status" });
  const show = (preset) => {
    const names = preset.name === "uploaded" ? [...preset.rooms, "uploaded"] : preset.rooms;
    room.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
    room.value = preset.name;
    status.className = "";
    status.textContent = summary(preset);
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
  room.addEventListener("change", () => room.value !== "uploaded" && save({ name: room.value }));
  file.addEventListener("change", async () => {
    if (file.files[0]) await save({ file: await file.files[0].text() });
    file.value = "";
  });
  api("GET", "/api/me/preset").then(show, (e) => { status.textContent = e.message; });
  return h("section", { class: "card narrow", id: "preset" },
    h("h2", {}, "Speech detection preset"),
    h("p", { class: "muted" }, "How your lectures, uploaded or recorded, are cut into speech. "
      + "Noisy room: fewer false alarms from fans and chairs; quiet room: keeps soft voices."),
    h("label", {}, "Room", room),
    h("label", {}, "Or a preset file from classrec tune", file),
    status);
}
