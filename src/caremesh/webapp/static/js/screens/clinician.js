// Clinic: a practitioner's list of the day and the visit screen (chart summary, completion, what is recorded in it).
// What a role may record follows platform/permissions.py; the server decides, the screen only hides what it refuses.
import { all, api, newIdempotencyKey } from "../api.js";
import { allPractitioners, patientName, practitionerLabel, practitionerName } from "../lookup.js";
import { action, card, clinicLocal, compact, dateTime, dayRange, definitionList, form, h, link, loader, page, replace, statusBadge, table, time, today, toast } from "../ui.js";
import { ordersCard } from "./clinic_orders.js";

const CLINIC = ["doctor", "nurse"];

// Who may do what (the permission matrix, as far as the screens need it): doctors all of it, nurses the nurse's part.
const NURSE_CAN = new Set(["vital_signs", "allergy", "note", "check_in"]);
export function can(user, what) {
  if (user.roles.some((role) => role === "admin" || role === "doctor")) return true;
  return user.roles.includes("nurse") && NURSE_CAN.has(what);
}

// Whole years from a date of birth to a day ("YYYY-MM-DD" strings compare as dates).
function ageOn(dateOfBirth, day = today()) {
  const years = Number(day.slice(0, 4)) - Number(dateOfBirth.slice(0, 4));
  return day.slice(5) < dateOfBirth.slice(5) ? years - 1 : years;
}

// --- today's list ------------------------------------------------------------------------------------------------

function todaysList({ query, user, navigate }) {
  const day = query.date || today();
  const practitionerId = query.practitioner_id || user.practitioner_id || "";
  return page(
    "Today's list",
    loader(async () => {
      const practitioners = await allPractitioners();
      const choose = form({
        className: "search",
        submit: "Show",
        fields: [
          { name: "practitioner_id", label: "Practitioner", type: "select", required: true, placeholder: "Choose…", value: practitionerId, options: practitioners.map((p) => [p.id, `${practitionerLabel(p)} · ${p.specialty.replaceAll("_", " ")}`]) },
          { name: "date", label: "Day", type: "date", required: true, value: day },
        ],
        onSubmit: async (values) => navigate(`clinic?${new URLSearchParams(values)}`),
      });
      return h("div", {}, choose, practitionerId ? dayTable(practitionerId, day) : h("p", { class: "empty" }, "Choose a practitioner to see their appointments."));
    }),
  );
}

function dayTable(practitionerId, day) {
  return loader(async () => {
    const items = await all("/appointments", { practitioner_id: practitionerId, ...dayRange(day) });
    const rows = await Promise.all(items.sort((a, b) => a.start.localeCompare(b.start)).map(async (a) => ({ ...a, patient: await patientName(a.patient_id) })));
    const open = rows.filter((a) => ["scheduled", "checked_in"].includes(a.status)).length;
    return table(
      [
        { label: "Time", value: (a) => `${time(a.start)}–${time(a.end)}` },
        { label: "Patient", value: (a) => a.patient },
        { label: "Reason", value: (a) => a.reason || "—" },
        { label: "Status", value: (a) => statusBadge(a.status) },
        { label: "", value: (a) => h("a", { class: `button${["scheduled", "checked_in"].includes(a.status) ? "" : " secondary"}`, href: `#/visits/${a.id}`, "aria-label": `Open the visit of ${a.patient} at ${time(a.start)}` }, "Open") },
      ],
      rows,
      { empty: `No appointments on ${day}.`, caption: `${await practitionerName(practitionerId)} · ${day} · ${rows.length} appointment(s), ${open} still to see` },
    );
  });
}

// --- the visit ---------------------------------------------------------------------------------------------------

const VITALS = [
  ["heart_rate", "Heart rate (beats/min)", 20, 300, "1"],
  ["systolic_bp", "Systolic BP (mmHg)", 40, 300, "1"],
  ["diastolic_bp", "Diastolic BP (mmHg)", 20, 200, "1"],
  ["temperature_c", "Temperature (°C)", 30, 45, "0.1"],
  ["respiratory_rate", "Respiratory rate (breaths/min)", 4, 80, "1"],
  ["spo2", "SpO₂ (%)", 50, 100, "1"],
  ["weight_kg", "Weight (kg)", 0.2, 650, "0.1"],
  ["height_cm", "Height (cm)", 20, 275, "0.1"],
];


export function vitalsSummary(r) {
  const parts = [];
  if (r.heart_rate != null) parts.push(`HR ${r.heart_rate}/min`);
  if (r.systolic_bp != null || r.diastolic_bp != null) parts.push(`BP ${r.systolic_bp ?? "—"}/${r.diastolic_bp ?? "—"} mmHg`);
  if (r.temperature_c != null) parts.push(`T ${r.temperature_c} °C`);
  if (r.respiratory_rate != null) parts.push(`RR ${r.respiratory_rate}/min`);
  if (r.spo2 != null) parts.push(`SpO₂ ${r.spo2} %`);
  if (r.weight_kg != null) parts.push(`${r.weight_kg} kg`);
  if (r.height_cm != null) parts.push(`${r.height_cm} cm`);
  return parts.join(" · ");
}

function recordSummary(r) {
  switch (r.type) {
    case "diagnosis":
      return `${r.code} ${r.description || ""} (${r.clinical_status})`;
    case "procedure":
      return `${r.code} × ${r.quantity}`;
    case "allergy":
      return `${r.substance} — ${r.severity}${r.reaction ? `, ${r.reaction}` : ""}`;
    case "vital_signs":
      return vitalsSummary(r);
    case "note":
      return r.text;
    default:
      return "";
  }
}

const TYPE_LABEL = { diagnosis: "Diagnosis", procedure: "Procedure", allergy: "Allergy", vital_signs: "Vital signs", note: "Note" };

// One form that writes one type of medical record for this encounter, then refreshes what depends on it.
function recordForm(visit, type, { submit, fields, body, after }) {
  const element = form({
    submit,
    fields,
    onSubmit: async (values) => {
      const entry = { patient_id: visit.patient_id, appointment_id: visit.id, type, ...body(compact(values)) };
      await api("POST", "/medical-records", { body: entry, idempotencyKey: newIdempotencyKey() });
      element.reset();
      const when = element.querySelector("[name=measured_at]");
      if (when) when.value = clinicLocal();
      toast(`${TYPE_LABEL[type]} recorded.`, "success");
      after(type);
    },
  });
  // What reset() goes back to: the values the form started with.
  element.querySelectorAll("input").forEach((input) => (input.defaultValue = input.value));
  return element;
}

function numbers(values, names) {
  return Object.fromEntries(names.filter((name) => values[name] !== undefined).map((name) => [name, Number(values[name])]));
}

function recordForms(visit, user, refresh) {
  const forms = [];
  if (can(user, "vital_signs")) {
    const vitals = recordForm(visit, "vital_signs", {
      submit: "Record vital signs",
      fields: [
        { name: "measured_at", label: "Measured at", type: "datetime-local", required: true, value: clinicLocal(), wide: true },
        ...VITALS.map(([name, label, min, max, step]) => ({ name, label, type: "number", min, max, step, inputmode: step === "1" ? "numeric" : "decimal" })),
      ],
      body: (values) => ({ measured_at: values.measured_at, ...numbers(values, VITALS.map(([name]) => name)) }),
      after: refresh,
    });
    forms.push(card("Vital signs", h("p", { class: "hint" }, "At least one measure."), vitals));
  }
  if (can(user, "diagnosis")) {
    forms.push(card("Diagnosis", recordForm(visit, "diagnosis", {
      submit: "Record diagnosis",
      fields: [
        { name: "code", label: "ICD-10-CM code", required: true, placeholder: "e.g. I10, E11.9", hint: "Checked against the bundled ICD-10-CM code set." },
        { name: "clinical_status", label: "Clinical status", type: "select", value: "active", options: [["active", "Active"], ["resolved", "Resolved"]] },
        { name: "onset_date", label: "Onset date", type: "date", max: today() },
        { name: "description", label: "Description", wide: true, hint: "Leave empty to use the code set's description." },
      ],
      body: (values) => values,
      after: refresh,
    })));
  }
  if (can(user, "procedure")) {
    forms.push(card("Procedure", recordForm(visit, "procedure", {
      submit: "Record procedure",
      fields: [
        { name: "code", label: "CPT/HCPCS code", required: true, placeholder: "e.g. 93000", pattern: "[0-9]{4}[0-9FTUftu]|[A-Va-v][0-9]{4}", hint: "Five characters. It is billed on the visit's invoice." },
        { name: "quantity", label: "Procedure quantity", type: "number", required: true, value: "1", min: 1, max: 999, step: "1", inputmode: "numeric" },
      ],
      body: (values) => ({ code: values.code.toUpperCase(), quantity: Number(values.quantity) }),
      after: refresh,
    })));
  }
  if (can(user, "allergy")) {
    forms.push(card("Allergy", recordForm(visit, "allergy", {
      submit: "Record allergy",
      fields: [
        { name: "substance", label: "Substance", required: true, placeholder: "e.g. Penicillin" },
        { name: "severity", label: "Severity", type: "select", required: true, placeholder: "Choose…", options: [["mild", "Mild"], ["moderate", "Moderate"], ["severe", "Severe"]] },
        { name: "reaction", label: "Reaction", wide: true },
      ],
      body: (values) => values,
      after: refresh,
    })));
  }
  if (can(user, "note")) {
    forms.push(card("Clinical note", recordForm(visit, "note", {
      submit: "Save note",
      fields: [{ name: "text", label: "Note", type: "textarea", required: true, rows: 4, wide: true }],
      body: (values) => values,
      after: refresh,
    })));
  }
  return forms;
}

function chartSummary(chart) {
  const p = chart.patient;
  const allergies = chart.allergies.length
    ? h("ul", { class: "plain" }, chart.allergies.map((a) => h("li", {}, h("strong", {}, a.substance), " — ", h("span", { class: `severity-${a.severity}` }, a.severity), a.reaction ? `, ${a.reaction}` : "")))
    : "None recorded";
  const diagnoses = chart.active_diagnoses.length ? h("ul", { class: "plain" }, chart.active_diagnoses.map((d) => h("li", {}, h("code", {}, d.code), ` ${d.description || ""}`))) : "None";
  return card(
    "Patient",
    h("p", { class: "patient-name" }, h("strong", {}, `${p.last_name}, ${p.first_name}`), ` · ${ageOn(p.date_of_birth)} years · ${p.gender} · born ${p.date_of_birth}`),
    definitionList([
      ["Allergies", allergies],
      ["Active diagnoses", diagnoses],
      ["Latest vital signs", chart.latest_vital_signs ? `${vitalsSummary(chart.latest_vital_signs)} (${dateTime(chart.latest_vital_signs.measured_at)})` : "None recorded"],
    ]),
  );
}

function appointmentCard(appointment, user, reload) {
  const buttons = [];
  const open = ["scheduled", "checked_in"].includes(appointment.status);
  if (appointment.status === "scheduled" && can(user, "check_in")) {
    buttons.push(action("Check in", async () => {
      await api("POST", `/appointments/${appointment.id}/check-in`, { ifMatch: appointment.version, idempotencyKey: newIdempotencyKey() });
      toast("Checked in.", "success");
      reload();
    }, { kind: "secondary" }));
  }
  if (open && can(user, "complete")) {
    buttons.push(action("Complete visit", async () => {
      await api("POST", `/appointments/${appointment.id}/complete`, { ifMatch: appointment.version, idempotencyKey: newIdempotencyKey() });
      toast("Visit completed. Its invoice is issued.", "success");
      reload();
    }, { confirm: `Complete visit ${appointment.number}? The visit ends now and the consultation is invoiced; this cannot be undone.` }));
  }
  return card(
    "Appointment",
    definitionList([
      ["Number", appointment.number],
      ["When", `${dateTime(appointment.start)}–${time(appointment.end)}`],
      ["Reason", appointment.reason || "—"],
      ["Status", statusBadge(appointment.status)],
      ["Checked in", appointment.checked_in_at ? time(appointment.checked_in_at) : undefined],
      ["Completed", appointment.completed_at ? dateTime(appointment.completed_at) : undefined],
    ]),
    buttons.length ? h("div", { class: "actions" }, buttons) : null,
  );
}

function visitRecords(visit) {
  return loader(async () => {
    const records = await all("/medical-records", { patient_id: visit.patient_id, appointment_id: visit.id });
    return table(
      [
        { label: "Recorded", value: (r) => time(r.recorded_at) },
        { label: "Type", value: (r) => TYPE_LABEL[r.type] || r.type },
        { label: "Details", value: (r) => recordSummary(r) },
        { label: "Status", value: (r) => statusBadge(r.status) },
      ],
      records,
      { empty: "Nothing recorded in this visit yet.", caption: `${records.length} entr${records.length === 1 ? "y" : "ies"}` },
    );
  });
}

function visit({ params, user }) {
  return page(
    "Visit",
    loader(async (reload) => {
      const appointment = await api("GET", `/appointments/${params.id}`);
      const chartSlot = h("div", {});
      const recordsSlot = h("div", {});
      const showChart = () => replace(chartSlot, loader(async () => chartSummary(await api("GET", `/patients/${appointment.patient_id}/chart`))));
      const showRecords = () => replace(recordsSlot, visitRecords(appointment));
      showChart();
      showRecords();
      const refresh = (type) => {
        showRecords();
        if (type !== "note" && type !== "procedure") showChart();
      };
      const header = [
        h("p", {}, `${await practitionerName(appointment.practitioner_id)} · `, link("#/clinic", "Back to today's list")),
        h("div", { class: "row" }, chartSlot, appointmentCard(appointment, user, reload)),
      ];
      // A cancelled appointment or a no-show was no encounter: nothing is recorded or ordered against it.
      if (["cancelled", "no_show"].includes(appointment.status)) {
        return h("div", { class: "visit" }, header, h("p", { class: "notice" }, `This appointment is ${appointment.status.replace("_", "-")}: nothing can be recorded or ordered in it.`), card("Recorded in this visit", recordsSlot));
      }
      const doctorOnly = can(user, "diagnosis") ? null : h("p", { class: "notice" }, "Diagnoses, procedures and orders are recorded by a doctor.");
      return h(
        "div",
        { class: "visit" },
        header,
        h("h2", {}, "Record"),
        doctorOnly,
        h("div", { class: "record-forms" }, recordForms(appointment, user, refresh)),
        can(user, "order") ? ordersCard(appointment, user) : null,
        card("Recorded in this visit", recordsSlot),
      );
    }),
  );
}

export const screens = [
  { path: "clinic", label: "Today's list", group: "Clinic", roles: CLINIC, nav: true, home: CLINIC, render: todaysList },
  { path: "visits/:id", label: "Visit", parent: "clinic", roles: CLINIC, render: visit },
];
