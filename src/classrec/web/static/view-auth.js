// Sign up / log in form.
import { api } from "./api.js";
import { h, mount } from "./dom.js";

export function authView(onLoggedIn) {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username" });
  const password = h("input", {
    type: "password", name: "password", required: true, minlength: "8",
    autocomplete: "current-password",
  });
  const error = h("p", { class: "error", role: "alert" });
  const submit = (path) => async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!form.reportValidity()) return;
    try {
      await api("POST", path, { email: email.value, password: password.value });
      onLoggedIn();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const form = h("form", { class: "card narrow", onsubmit: submit("/api/auth/login") },
    h("h1", {}, "ClassRec"),
    h("p", {}, "Record lectures, find where the speech is, skip the silence."),
    h("label", {}, "E-mail", email),
    h("label", {}, "Password (8+ characters)", password),
    h("div", { class: "row" },
      h("button", { type: "submit", id: "login" }, "Log in"),
      h("button", { type: "button", id: "signup", class: "secondary",
        onclick: submit("/api/auth/signup") }, "Sign up")),
    error);
  mount(form);
}
