// Upload a recording with a progress bar, then a processing indicator.
import { uploadFile } from "./api.js";
import { h, mount } from "./dom.js";

export function uploadView() {
  const file = h("input", { type: "file", id: "upload-file", accept: "audio/*,video/*" });
  const title = h("input", { type: "text", id: "upload-title", maxlength: "200",
    placeholder: "Title (default: file name)" });
  const progress = h("progress", { id: "upload-progress", max: "1", value: "0" });
  const status = h("p", { id: "upload-status", role: "status" });
  const button = h("button", { type: "submit", id: "upload-button" }, "Upload");
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    if (!file.files.length) {
      status.textContent = "Choose a file first.";
      return;
    }
    button.disabled = true;
    status.className = "";
    try {
      const lecture = await uploadFile(file.files[0], title.value, {
        onProgress: (f) => {
          progress.value = f;
          status.textContent = `Uploading… ${Math.round(f * 100)} %`;
        },
        onUploaded: () => {
          progress.removeAttribute("value"); // indeterminate bar while the server analyses
          status.textContent = "Processing: finding the speech…";
        },
      });
      location.hash = `#/lecture/${lecture.id}`;
    } catch (e) {
      progress.value = 0;
      status.className = "error";
      status.textContent = e.message;
      button.disabled = false;
    }
  } },
    h("h1", {}, "Upload a recording"),
    h("p", { class: "muted" }, "Any audio or video file with sound (WAV, MP3, M4A, FLAC, MP4…)."),
    h("label", {}, "File", file), h("label", {}, "Title", title), button, progress, status);
  mount(form);
}
