// Building blocks of the screens. Text from the API is only ever set as text (never as HTML).
import { ApiError } from "./api.js";

// h("button", {type: "button", onclick: f}, "Save") → an element. Attributes: on* → listeners, class, dataset,
// boolean true/false → present/absent, everything else → setAttribute.
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
  return container;
}

let ids = 0;
export const uid = (prefix = "f") => `${prefix}-${++ids}`;

// A page: heading (focused for screen readers and keyboard users) + content.
export function page(title, ...content) {
  return h("section", { class: "page" }, h("h1", { tabindex: "-1" }, title), ...content);
}

export function card(title, ...content) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...content);
}

// Money as the API sends it (decimal strings), shown with two decimals and grouping, never via float arithmetic
// that would change the figure (the string is split, not parsed).
export function money(value) {
  if (value === undefined || value === null || value === "") return "—";
  const [whole, fraction = ""] = String(value).replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${String(value).startsWith("-") ? "−" : ""}${grouped}.${(fraction + "00").slice(0, 2)}`;
}

// Money with its currency ("1,234.50 USD"), or "—" when there is none.
export function moneyIn(value, currency) {
  if (value === undefined || value === null || value === "") return "—";
  return currency ? `${money(value)} ${currency}` : money(value);
}

// --- dates and times: as the clinic's wall clock has them, whatever the zone of the computer the app runs on ----

let clinicZone; // an IANA name (GET /clinic, read at sign-in); until then the browser's own

export function setClinicZone(timezone) {
  clinicZone = timezone;
}

export function dateTime(value) {
  if (!value) return "—";
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: clinicZone });
}

export function time(value) {
  return value ? new Date(value).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", timeZone: clinicZone }) : "—";
}

// The clinic's date of an instant, in words.
export function dateOf(value) {
  return value ? new Date(value).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: clinicZone }) : "—";
}

// A calendar date ("2026-12-07", a date of birth or a booked day) in words: no time zone applies to it.
export function calendarDate(isoDate) {
  return isoDate ? new Date(`${isoDate}T00:00:00Z`).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" }) : "—";
}

// The clinic's wall clock at an instant as a naive "2026-12-07T09:30" (an <input type=datetime-local> value); the
// API reads a naive datetime in the clinic's zone, so it goes back as it is.
export function clinicLocal(instant = new Date()) {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: clinicZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const part = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}`;
}

// The clinic's calendar date of an instant (default: now), as "2026-12-07".
export function clinicDate(instant = new Date()) {
  return clinicLocal(instant).slice(0, 10);
}

export function today() {
  return clinicDate();
}

// One clinic day as a list's `from`/`to` query: naive midnights, read by the API in the clinic's zone.
export function dayRange(isoDate) {
  const next = new Date(`${isoDate}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return { from: `${isoDate}T00:00:00`, to: `${next.toISOString().slice(0, 10)}T00:00:00` };
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${String(status).replaceAll("_", "-")}` }, String(status).replaceAll("_", " "));
}

// table([{label, value: row => text|Node}], rows, {empty, caption}) → an accessible table.
export function table(columns, rows, { empty = "Nothing here yet.", caption } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.value(row)))))),
    ),
  );
}

// A labelled field. `field({name, label, type, required, options: [[value, text]], value, hint})`.
export function field(spec) {
  const id = uid(spec.name);
  const common = { id, name: spec.name, required: spec.required, "aria-describedby": spec.hint ? `${id}-hint` : undefined };
  let control;
  if (spec.type === "select") {
    control = h(
      "select",
      common,
      spec.placeholder !== undefined ? h("option", { value: "" }, spec.placeholder) : null,
      (spec.options || []).map(([value, text]) => h("option", { value, selected: String(value) === String(spec.value ?? "") }, text)),
    );
  } else if (spec.type === "textarea") {
    control = h("textarea", { ...common, rows: spec.rows || 3 }, spec.value ?? "");
  } else {
    control = h("input", {
      ...common,
      type: spec.type || "text",
      value: spec.value ?? "",
      step: spec.step,
      min: spec.min,
      max: spec.max,
      inputmode: spec.inputmode,
      autocomplete: spec.autocomplete || "off",
      placeholder: spec.placeholder,
      pattern: spec.pattern,
    });
  }
  return h(
    "div",
    { class: `field${spec.wide ? " wide" : ""}` },
    h("label", { for: id }, spec.label, spec.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null),
    control,
    spec.hint ? h("small", { id: `${id}-hint`, class: "hint" }, spec.hint) : null,
    h("small", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }),
  );
}

// A form of fields whose submit button shows progress and whose errors come from the API's problem details.
// `onSubmit(values, form)` may throw ApiError: its message shows above the button, field errors beside fields.
export function form({ fields, submit = "Save", onSubmit, className = "", extra = [] }) {
  const alert = h("div", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit" }, submit);
  const element = h("form", { class: `form ${className}`, novalidate: true }, h("div", { class: "fields" }, fields.map(field)), extra, alert, h("div", { class: "actions" }, button));
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(element);
    if (!element.checkValidity()) {
      for (const control of element.querySelectorAll(":invalid")) showFieldError(element, control.name, control.validationMessage);
      element.querySelector(":invalid")?.focus();
      return;
    }
    const values = Object.fromEntries(new FormData(element).entries());
    await busy(button, async () => {
      try {
        await onSubmit(values, element);
      } catch (error) {
        showError(alert, error, element);
      }
    });
  });
  return element;
}

function clearErrors(formElement) {
  formElement.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  formElement.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const alert = formElement.querySelector(".form-error");
  if (alert) alert.replaceChildren();
}

function showFieldError(formElement, name, message) {
  const control = formElement.querySelector(`[name="${CSS.escape(name)}"]`);
  if (!control) return false;
  control.setAttribute("aria-invalid", "true");
  const slot = formElement.querySelector(`#${CSS.escape(control.id)}-error`);
  if (slot) slot.textContent = message;
  return true;
}

// The problem's title and detail in `container` (role=alert); 422 field errors beside their fields too.
export function showError(container, error, formElement) {
  if (!(error instanceof ApiError)) {
    const bug = error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError;
    if (bug) console.error(error);
    error = new ApiError(0, bug ? { title: "Something went wrong", detail: String(error.message) } : { title: String(error?.message || error) });
  }
  // A nested field ("insurance.bin") is shown at the control of that name, or of its last or first part.
  if (formElement) {
    for (const { field: name, message } of error.fieldErrors) {
      const parts = name.split(".");
      [name, parts.at(-1), parts[0]].some((candidate) => showFieldError(formElement, candidate, message));
    }
  }
  replace(
    container,
    h("div", { class: "problem" }, h("strong", {}, error.title), error.problem.detail && error.problem.detail !== error.title ? h("span", {}, ` ${error.problem.detail}`) : null, error.code && error.code !== "HTTP_ERROR" ? h("code", {}, error.code) : null),
  );
}

export function errorBox(error) {
  const box = h("div", { class: "form-error", role: "alert" });
  showError(box, error);
  return box;
}

// Run `work` with the button disabled and a spinner in it; answers what `work` answers.
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), ` ${label}`);
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

// A button that runs an action with progress and reports failure in `errorSlot` (or a toast).
export function action(label, run, { kind = "", confirm: question, errorSlot, title } = {}) {
  const button = h("button", { type: "button", class: kind, title });
  button.textContent = label;
  button.addEventListener("click", async () => {
    if (question && !(await confirm(question, label))) return;
    await busy(button, async () => {
      try {
        await run(button);
      } catch (error) {
        if (errorSlot) showError(errorSlot, error);
        else toast(error.message || String(error), "error");
      }
    });
  });
  return button;
}

// A confirmation dialog for anything irreversible; answers true when confirmed.
export function confirm(message, confirmLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  dialog.querySelector("#confirm-message").textContent = message;
  dialog.querySelector("#confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    dialog.querySelector("#confirm-cancel").focus();
  });
}

export function toast(message, kind = "info") {
  const box = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  document.getElementById("toasts").append(box);
  setTimeout(() => box.remove(), kind === "error" ? 8000 : 4000);
}

// A region that loads its content, with a spinner meanwhile and the problem if loading failed.
export function loader(load) {
  const region = h("div", { class: "loader", "aria-busy": "true" }, h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), " Loading…"));
  const run = async () => {
    region.setAttribute("aria-busy", "true");
    try {
      replace(region, await load(run));
    } catch (error) {
      replace(region, errorBox(error));
    } finally {
      region.removeAttribute("aria-busy");
    }
  };
  run();
  return region;
}

export function definitionList(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, value]) => value !== undefined).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

export function link(href, text) {
  return h("a", { href }, text);
}

// Drop empty strings so optional fields are left out of a request body.
export function compact(values) {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== "" && value !== undefined && value !== null));
}
