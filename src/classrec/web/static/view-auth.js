// Sign up / log in form.
import { api } from "./api.js";
import { h, mount } from "./dom.js";

const TAKEN = "could not sign up and log in with this e-mail and password: "
  + "if the e-mail already has an account, log in with its password";

export function authView(onLoggedIn) {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username" });
  const password = h("input", {
    type: "password", name: "password", required: true, minlength: "8",
    autocomplete: "current-password",
  });
  const error = h("p", { class: "error", role: "alert" });
  const credentials = () => ({ email: email.value, password: password.value });
  const logIn = () => api("POST", "/api/auth/login", credentials());
  // Signup answers alike whether the e-mail had an account or not, and logs nobody in: log in
  // next. That fails only for a taken e-mail with another password.
  const signUp = async () => {
    await api("POST", "/api/auth/signup", credentials());
    try {
      await logIn();
    } catch (e) {
      if (e.status === 401) throw new Error(TAKEN);
      throw e;
    }
  };
  const submit = (action) => async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!form.reportValidity()) return;
    try {
      await action();
      onLoggedIn();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const form = h("form", { class: "card narrow", onsubmit: submit(logIn) },
    h("h1", {}, "ClassRec"),
    h("p", {}, "Record lectures, find where the speech is, skip the silence."),
    h("label", {}, "E-mail", email),
    h("label", {}, "Password (8+ characters)", password),
    h("div", { class: "row" },
      h("button", { type: "submit", id: "login" }, "Log in"),
      h("button", { type: "button", id: "signup", class: "secondary",
        onclick: submit(signUp) }, "Sign up")),
    error);
  mount(form);
}
