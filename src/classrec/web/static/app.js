// The single page: a hash router that shows one view at a time.
import { api } from "./api.js";
import { authView } from "./view-auth.js";
import { lectureView } from "./view-lecture.js";
import { libraryView } from "./view-library.js";
import { recordView } from "./view-record.js";
import { uploadView } from "./view-upload.js";

const state = { user: null, cleanup: null };

const routes = [
  [/^#\/library$/, () => libraryView()],
  [/^#\/record$/, () => recordView()],
  [/^#\/upload$/, () => uploadView()],
  [/^#\/lecture\/([0-9a-f]{32})$/, (m) => lectureView(m[1])],
];

async function whoami() {
  try {
    state.user = await api("GET", "/api/auth/me");
  } catch {
    state.user = null;
  }
  document.getElementById("nav").hidden = !state.user;
  document.getElementById("whoami").textContent = state.user ? state.user.email : "";
}

async function render() {
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  if (!state.user) {
    authView(async () => {
      await whoami();
      location.hash = "#/library";
      render();
    });
    return;
  }
  const hash = location.hash || "#/library";
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (match) {
      state.cleanup = (await view(match)) || null;
      return;
    }
  }
  location.hash = "#/library";
}

document.getElementById("logout").addEventListener("click", async () => {
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
