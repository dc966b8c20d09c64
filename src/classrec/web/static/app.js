// The single page: a hash router that shows one view at a time. A recording in progress is not
// a view: it goes on while the user moves around (see recording.js).
import { api, ApiError } from "./api.js";
import { clock, h, mount } from "./dom.js";
import { recording } from "./recording.js";
import { authView } from "./view-auth.js";
import { courseView, coursesView, joinView } from "./view-courses.js";
import { lectureView } from "./view-lecture.js";
import { libraryView } from "./view-library.js";
import { recordView } from "./view-record.js";
import { uploadView } from "./view-upload.js";

const state = { user: null, limits: {}, cleanup: null };

const routes = [
  [/^#\/library$/, () => libraryView(state.user)],
  [/^#\/record$/, () => recordView()],
  [/^#\/record\/([0-9a-f]{32})$/, (m) => recordView(m[1])],
  [/^#\/upload$/, () => uploadView(state.limits)],
  [/^#\/lecture\/([0-9a-f]{32})$/, (m) => lectureView(m[1], state.user)],
  [/^#\/courses$/, () => coursesView()],
  [/^#\/course\/(\d+)$/, (m) => courseView(Number(m[1]), state.user)],
  [/^#\/join\/([A-Za-z0-9]+)$/, (m) => joinView(m[1])],
];

// Who is logged in: /api/session answers 200 with `user: null` for visitors (no 401 to log).
async function whoami() {
  const session = await api("GET", "/api/session").catch(() => ({ user: null }));
  state.user = session.user;
  state.limits = { maxUploadBytes: session.max_upload_bytes };
  document.getElementById("nav").hidden = !state.user;
  document.getElementById("whoami").textContent = state.user ? state.user.email : "";
}

function notFound(what) {
  mount(h("section", { class: "card", id: "not-found" }, h("h1", {}, `${what} not found`),
    h("p", {}, "It does not exist, or it is not shared with you."),
    h("a", { href: "#/library", class: "button" }, "Back to the library")));
}

async function show(view, match) {
  try {
    state.cleanup = (await view(match)) || null;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    notFound(/^#\/(course|join)/.test(match[0]) ? "Course" : "Lecture");
  }
}

async function render() {
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  if (!state.user) {
    authView(async () => {
      await whoami();
      if (!location.hash.startsWith("#/join/")) location.hash = "#/library";
      render();
    });
    return;
  }
  const hash = location.hash || "#/library";
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (match) return show(view, match);
  }
  location.hash = "#/library";
}

// The header's reminder of a recording in progress, which also leads back to it.
const pill = document.getElementById("recording-pill");
recording.subscribe((rec) => {
  pill.hidden = !rec.active;
  pill.textContent = rec.state === "paused" ? `Paused ${clock(rec.elapsed)}`
    : `● Recording ${clock(rec.elapsed)}`;
});

document.getElementById("logout").addEventListener("click", async () => {
  if (recording.active) { // save the recording first: its socket would lose its login
    recording.stop();
    await recording.done;
  }
  await api("POST", "/api/auth/logout");
  await whoami();
  render();
});

window.addEventListener("hashchange", render);
// Make sure the CSRF cookie exists before the first state-changing request.
fetch("/health", { credentials: "same-origin" }).finally(async () => {
  await whoami();
  render();
});
