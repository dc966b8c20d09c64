// Upload a recording with a progress bar, then a processing indicator. The size is checked
// before anything is sent, and a finished upload only offers a link: it never takes the user
// away from wherever they went meanwhile (a recording in progress, say). Once the file is sent
// the server analyses it whatever the page does; the library shows its progress. A file
// uploaded before (same key) is not sent again.
import { api, ApiError, fileKey, uploadFile } from "./api.js";
import { bytes, h, mount } from "./dom.js";
import { presetCard } from "./view-preset.js";

function openLink(lecture) {
  return h("a", { href: `#/lecture/${lecture.id}`, id: "open-upload" }, `Open “${lecture.title}”`);
}

export function uploadView({ maxUploadBytes }) {
  const limit = maxUploadBytes ? `Up to ${bytes(maxUploadBytes)}.` : "";
  const file = h("input", { type: "file", id: "upload-file", accept: "audio/*,video/*" });
  const title = h("input", { type: "text", id: "upload-title", maxlength: "200",
    placeholder: "Title (default: file name)" });
  const progress = h("progress", { id: "upload-progress", max: "1", value: "0",
    "aria-label": "upload progress" });
  const status = h("p", { id: "upload-status", role: "status" });
  const button = h("button", { type: "submit", id: "upload-button" }, "Upload");
  const fail = (message) => {
    progress.value = 0;
    status.className = "error";
    status.textContent = message;
    button.disabled = false;
  };
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return fail("Choose a file first.");
    if (maxUploadBytes && chosen.size > maxUploadBytes) {
      return fail(`This file is ${bytes(chosen.size)}: the limit is ${bytes(maxUploadBytes)}.`);
    }
    button.disabled = true;
    status.className = "";
    try {
      const key = await fileKey(chosen);
      const known = await api("GET", `/api/lectures/upload/${key}`).catch((e) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      });
      if (known) {
        status.replaceChildren("This file was uploaded already. ", openLink(known));
        button.disabled = false;
        return;
      }
      const lecture = await uploadFile(chosen, title.value, key, {
        onProgress: (f) => {
          progress.value = f;
          status.textContent = `Uploading… ${Math.round(f * 100)} %`;
        },
        onUploaded: () => {
          progress.removeAttribute("value"); // indeterminate bar while the server analyses
          status.replaceChildren("Processing: finding the speech… It goes on if you leave "
            + "this page; the ", h("a", { href: "#/library" }, "library"), " shows its progress.");
        },
      });
      progress.value = 1;
      status.replaceChildren("Uploaded. ", openLink(lecture));
      button.disabled = false;
    } catch (e) {
      fail(e.message);
    }
  } },
    h("h1", {}, "Upload a recording"),
    h("p", { class: "muted", id: "upload-limit" },
      `Any audio or video file with sound (WAV, MP3, M4A, FLAC, MP4…). ${limit}`),
    h("label", {}, "File", file), h("label", {}, "Title", title), button, progress, status);
  mount(form, presetCard({ maxUploadBytes }));
}
