// Courses: a teacher creates one, shares its invite link or code and adds lectures; students
// join and watch those lectures. The server decides who may do what; this only shows it.
import { api } from "./api.js";
import { clock, h, mount } from "./dom.js";

function inviteLink(code) {
  return `${location.origin}${location.pathname}#/join/${code}`;
}

function form(id, labelText, inputAttrs, buttonText, onSubmit) {
  const input = h("input", { id: `${id}-input`, required: true, ...inputAttrs });
  const error = h("p", { class: "error", role: "alert" });
  return h("form", { class: "stack", id, onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await onSubmit(input.value);
    } catch (err) {
      error.textContent = err.message;
    }
  } }, h("label", {}, labelText, input),
  h("button", { type: "submit", id: `${id}-button` }, buttonText), error);
}

export async function coursesView() {
  const courses = await api("GET", "/api/courses");
  const list = h("ul", { class: "courses", id: "course-list" }, ...courses.map((c) => h("li", {},
    h("a", { href: `#/course/${c.id}` }, c.title), " ",
    h("span", { class: "muted" }, c.role === "teacher" ? "(you teach)" : "(student)"))));
  const create = form("new-course", "New course title", { maxlength: "200" }, "Create course",
    async (title) => {
      const course = await api("POST", "/api/courses", { title });
      location.hash = `#/course/${course.id}`;
    });
  const join = form("join-course", "Invite code from your teacher", { maxlength: "32",
    autocomplete: "off" }, "Join course", async (code) => {
    const course = await api("POST", "/api/courses/join", { code });
    location.hash = `#/course/${course.id}`;
  });
  mount(h("section", { class: "card" }, h("h1", {}, "Courses"),
    courses.length ? list : h("p", { class: "muted" }, "You are in no course yet."),
    h("div", { class: "grid" }, create, join)));
}

function lectureItem(lecture, teacher, reload) {
  const remove = teacher && h("button", { type: "button", class: "small secondary",
    "aria-label": `Remove “${lecture.title}” from the course`, onclick: async () => {
      await api("DELETE", `/api/courses/${lecture.course_id}/lectures/${lecture.id}`);
      reload();
    } }, "Remove");
  return h("li", { dataset: { id: lecture.id } },
    h("a", { href: `#/lecture/${lecture.id}`, class: "title" }, lecture.title), " ",
    h("span", { class: "muted" }, clock(lecture.duration_s)), " ", remove);
}

// The teacher's own lectures not yet in this course, to add one.
async function addLectureForm(course, reload) {
  const mine = (await api("GET", "/api/lectures")).filter((l) => l.course_id !== course.id);
  if (!mine.length) {
    return h("p", { class: "muted" }, "All your lectures are in this course: record or upload "
      + "another to add it.");
  }
  const select = h("select", { id: "add-lecture" }, ...mine.map((l) =>
    h("option", { value: l.id }, l.title)));
  return h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    if (!select.value) return;
    await api("PUT", `/api/courses/${course.id}/lectures/${select.value}`);
    reload();
  } }, h("label", { class: "inline" }, "Add a lecture ", select),
  h("button", { type: "submit", id: "add-lecture-button" }, "Add"));
}

// Teacher: delete the course (asks once more); student: leave it. Either way, back to the list.
function endButton(course) {
  const teacher = course.role === "teacher";
  const button = h("button", { type: "button", class: "small danger", id: "end-course",
    onclick: async () => {
      if (teacher && button.dataset.armed !== "1") {
        button.dataset.armed = "1";
        button.textContent = "Really delete the course?";
        return;
      }
      await api("DELETE", `/api/courses/${course.id}${teacher ? "" : "/enrollment"}`);
      location.hash = "#/courses";
    } }, teacher ? "Delete course" : "Leave course");
  return button;
}

export async function courseView(id) {
  const course = await api("GET", `/api/courses/${id}`);
  const teacher = course.role === "teacher";
  const reload = () => courseView(id);
  const lectures = await api("GET", `/api/courses/${id}/lectures`);
  const invite = teacher && h("div", { class: "invite" },
    h("p", {}, "Students join with the code ", h("strong", { id: "invite-code" }, course.invite_code),
      " or this link:"),
    h("input", { id: "invite-link", readonly: true, value: inviteLink(course.invite_code),
      "aria-label": "Invite link" }));
  mount(h("section", { class: "card" },
    h("h1", { id: "course-title" }, course.title),
    h("p", { class: "muted" }, teacher ? "You teach this course." : "You are a student here."),
    invite,
    teacher ? await addLectureForm(course, reload) : null,
    h("h2", {}, "Lectures"),
    lectures.length ? h("ul", { class: "course-lectures", id: "course-lectures" },
      ...lectures.map((l) => lectureItem(l, teacher, reload)))
      : h("p", { class: "muted" }, "No lectures in this course yet."),
    h("div", { class: "row" }, endButton(course))));
}

// An invite link: join, then show the course (a visitor logs in first, then lands here).
export async function joinView(code) {
  const course = await api("POST", "/api/courses/join", { code });
  location.hash = `#/course/${course.id}`;
}
