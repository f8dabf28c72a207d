// Front desk: find or register a patient, a practitioner's free slots, book, reschedule, cancel, check in.
import { all, api, newIdempotencyKey } from "../api.js";
import { allPractitioners, forget, patient, patientLabel, patientName, practitionerLabel, practitionerName } from "../lookup.js";
import { action, card, clinicDate, compact, dateTime, dayRange, definitionList, errorBox, form, h, link, loader, page, replace, statusBadge, table, time, today, toast } from "../ui.js";

const DESK = ["receptionist", "doctor", "nurse"];
const GENDERS = [["female", "Female"], ["male", "Male"], ["other", "Other"], ["unknown", "Unknown"]];

function patientSearch({ query, navigate }) {
  const results = h("div", { "aria-live": "polite" });
  const search = form({
    className: "search",
    submit: "Search",
    fields: [
      { name: "q", label: "Name", value: query.q, placeholder: "Family or given name" },
      { name: "date_of_birth", label: "Date of birth", type: "date", value: query.date_of_birth },
    ],
    onSubmit: async (values) => {
      const found = await api("GET", "/patients", { query: { ...compact(values), limit: 50 } });
      replace(
        results,
        table(
          [
            { label: "Name", value: (p) => link(`#/patients/${p.id}`, patientLabel(p)) },
            { label: "Date of birth", value: (p) => p.date_of_birth },
            { label: "Age", value: (p) => p.age, class: "num" },
            { label: "Phone", value: (p) => p.phone || "—" },
            { label: "", value: (p) => h("a", { class: "button secondary", href: `#/book?patient_id=${p.id}` }, "Book") },
          ],
          found.items,
          { empty: "No patient matches. Check the spelling, or register the patient.", caption: `${found.items.length} patient(s)` },
        ),
      );
    },
  });
  if (query.q || query.date_of_birth) setTimeout(() => search.isConnected && search.requestSubmit());
  return page(
    "Patients",
    h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/patients/new" }, "Register a patient")),
    card("Find a patient", search),
    results,
  );
}

function registerPatient({ navigate }) {
  return page(
    "Register a patient",
    card(
      null,
      form({
        submit: "Register",
        fields: [
          { name: "first_name", label: "Given name", required: true, autocomplete: "off" },
          { name: "last_name", label: "Family name", required: true },
          { name: "date_of_birth", label: "Date of birth", type: "date", required: true, max: today() },
          { name: "gender", label: "Gender", type: "select", options: GENDERS, required: true, placeholder: "Choose…" },
          { name: "phone", label: "Phone", type: "tel", hint: "International format, e.g. +919812345678" },
          { name: "email", label: "Email", type: "email" },
          { name: "line1", label: "Address", wide: true },
          { name: "city", label: "City" },
          { name: "state", label: "State" },
          { name: "postal_code", label: "Postal code" },
          { name: "country", label: "Country", value: "IN" },
          { name: "bin", label: "Insurance BIN", hint: "6 digits, from the insurance card", inputmode: "numeric" },
          { name: "pcn", label: "Insurance PCN" },
          { name: "member_id", label: "Member ID" },
        ],
        onSubmit: async (values) => {
          const { line1, city, state, postal_code, country, bin, pcn, member_id, ...person } = compact(values);
          const body = { ...person };
          if (line1) body.address = compact({ line1, city, state, postal_code, country });
          if (bin || pcn || member_id) body.insurance = { bin, pcn, member_id };
          const created = await api("POST", "/patients", { body, idempotencyKey: newIdempotencyKey() });
          toast(`${patientLabel(created)} registered.`, "success");
          navigate(`patients/${created.id}`);
        },
      }),
    ),
  );
}

function appointmentActions(appointment, refresh) {
  const buttons = [];
  if (appointment.status === "scheduled") {
    buttons.push(action("Check in", async () => {
      await api("POST", `/appointments/${appointment.id}/check-in`, { idempotencyKey: newIdempotencyKey() });
      toast("Checked in.", "success");
      refresh();
    }));
    buttons.push(h("a", { class: "button secondary", href: `#/appointments/${appointment.id}/reschedule` }, "Reschedule"));
  }
  if (["scheduled", "checked_in"].includes(appointment.status)) {
    buttons.push(action("Cancel", async () => {
      await api("POST", `/appointments/${appointment.id}/cancel`, { body: { reason: "Cancelled at the front desk" }, idempotencyKey: newIdempotencyKey() });
      toast("Appointment cancelled.", "success");
      refresh();
    }, { kind: "danger", confirm: `Cancel appointment ${appointment.number || ""} on ${dateTime(appointment.start)}? The slot is released and the patient is notified.` }));
  }
  return h("div", { class: "actions" }, buttons);
}

async function appointmentRows(appointments) {
  return Promise.all(appointments.map(async (a) => ({ ...a, patient: await patientName(a.patient_id), practitioner: await practitionerName(a.practitioner_id) })));
}

function patientDetails({ params }) {
  return page(
    "Patient",
    loader(async (refresh) => {
      forget(params.id);
      const p = await patient(params.id);
      if (!p) throw new Error("This patient could not be found.");
      const appointments = await appointmentRows((await api("GET", "/appointments", { query: { patient_id: p.id, limit: 50 } })).items);
      return h(
        "div",
        {},
        h("h2", {}, patientLabel(p)),
        h("div", { class: "row" },
          card("Details", definitionList([
            ["Date of birth", `${p.date_of_birth} (age ${p.age})`],
            ["Gender", p.gender],
            ["Phone", p.phone || "—"],
            ["Email", p.email || "—"],
            ["Insurance", p.insurance ? `${p.insurance.member_id} (BIN ${p.insurance.bin})` : "None on file"],
          ])),
          card("Next steps", h("div", { class: "actions" },
            h("a", { class: "button", href: `#/book?patient_id=${p.id}` }, "Book an appointment"),
            h("a", { class: "button secondary", href: `#/invoices?patient_id=${p.id}` }, "Invoices"),
          )),
        ),
        card("Appointments", table(
          [
            { label: "When", value: (a) => dateTime(a.start) },
            { label: "Practitioner", value: (a) => a.practitioner },
            { label: "Status", value: (a) => statusBadge(a.status) },
            { label: "Reason", value: (a) => a.reason || "—" },
            { label: "", value: (a) => appointmentActions(a, refresh) },
          ],
          appointments,
          { empty: "No appointments yet." },
        )),
      );
    }),
  );
}

// Choose a practitioner and a day, then a free slot: the slot list is the availability endpoint's answer.
function slotPicker({ practitionerId, day, duration = 30, onPick }) {
  const slots = h("div", { class: "slots", role: "group", "aria-label": "Free slots" });
  const show = async (chosenPractitioner, chosenDay, minutes) => {
    if (!chosenPractitioner || !chosenDay) return replace(slots, h("p", { class: "empty" }, "Choose a practitioner and a day."));
    replace(slots, h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), " Finding free slots…"));
    try {
      const found = await api("GET", `/practitioners/${chosenPractitioner}/availability`, { query: { date: chosenDay, duration_minutes: minutes } });
      if (!found.slots.length) return replace(slots, h("p", { class: "empty" }, "No free slot on this day."));
      replace(slots, found.slots.map((slot) => {
        const button = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, time(slot.start));
        button.addEventListener("click", () => {
          slots.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", "false"));
          button.setAttribute("aria-pressed", "true");
          onPick({ ...slot, duration_minutes: Number(minutes) });
        });
        return button;
      }));
    } catch (error) {
      replace(slots, errorBox(error));
    }
  };
  return { slots, show };
}

// Booking starts from a patient: without one, find the patient first.
function choosePatientToBook() {
  const results = h("div", { "aria-live": "polite" });
  return page(
    "Book an appointment",
    card(
      "Whom for?",
      form({
        className: "search",
        submit: "Find",
        fields: [{ name: "q", label: "Patient name", required: true }],
        onSubmit: async ({ q }) => {
          const found = await api("GET", "/patients", { query: { q, limit: 20 } });
          replace(results, table(
            [
              { label: "Name", value: (p) => patientLabel(p) },
              { label: "Date of birth", value: (p) => p.date_of_birth },
              { label: "", value: (p) => h("a", { class: "button", href: `#/book?patient_id=${p.id}` }, `Book for ${p.first_name}`) },
            ],
            found.items,
            { empty: "No patient matches. Register the patient first (Patients → Register a patient)." },
          ));
        },
      }),
      results,
    ),
  );
}

function bookAppointment({ query, navigate }) {
  if (!query.patient_id) return choosePatientToBook();
  let chosen = null;
  const summary = h("p", { class: "notice", role: "status", hidden: true });
  const picker = slotPicker({
    onPick: (slot) => {
      chosen = slot;
      summary.hidden = false;
      summary.textContent = `Chosen: ${dateTime(slot.start)} (${slot.duration_minutes} min)`;
    },
  });
  return page(
    "Book an appointment",
    loader(async () => {
      const [who, practitioners] = await Promise.all([patient(query.patient_id), allPractitioners()]);
      if (!who) throw new Error("This patient could not be found.");
      const choices = form({
        submit: "Show free slots",
        fields: [
          { name: "practitioner_id", label: "Practitioner", type: "select", required: true, placeholder: "Choose…", value: query.practitioner_id, options: practitioners.map((p) => [p.id, `${practitionerLabel(p)} · ${p.specialty.replaceAll("_", " ")}`]) },
          { name: "date", label: "Day", type: "date", required: true, value: query.date || today(), min: today() },
          { name: "duration_minutes", label: "Length (minutes)", type: "select", value: "30", options: [["15", "15"], ["30", "30"], ["45", "45"], ["60", "60"]] },
        ],
        onSubmit: async (values) => {
          chosen = null;
          summary.hidden = true;
          await picker.show(values.practitioner_id, values.date, values.duration_minutes);
        },
      });
      const booking = form({
        submit: "Book",
        fields: [{ name: "reason", label: "Reason for the visit", wide: true }],
        extra: [summary],
        onSubmit: async (values) => {
          if (!chosen) throw new Error("Choose a free slot first.");
          const patientId = who.id;
          const practitionerId = choices.querySelector("[name=practitioner_id]").value;
          const booked = await api("POST", "/appointments", {
            body: compact({ patient_id: patientId, practitioner_id: practitionerId, start: chosen.start, duration_minutes: chosen.duration_minutes, reason: values.reason }),
            idempotencyKey: newIdempotencyKey(),
          });
          toast(`Booked ${booked.number || ""} for ${dateTime(booked.start)}.`, "success");
          navigate(`patients/${patientId}`);
        },
      });
      return h("div", {}, h("p", {}, "For ", h("strong", {}, patientLabel(who)), ` (born ${who.date_of_birth})`), card("1. Practitioner and day", choices), card("2. Free slots", picker.slots), card("3. Confirm", booking));
    }),
  );
}

function reschedule({ params, navigate }) {
  let chosen = null;
  return page(
    "Reschedule",
    loader(async () => {
      const appointment = await api("GET", `/appointments/${params.id}`);
      const picker = slotPicker({ onPick: (slot) => (chosen = slot) });
      const day = form({
        submit: "Show free slots",
        fields: [{ name: "date", label: "New day", type: "date", required: true, value: clinicDate(appointment.start), min: today() }],
        onSubmit: async ({ date }) => picker.show(appointment.practitioner_id, date, appointment.duration_minutes),
      });
      const move = form({
        submit: "Move the appointment",
        fields: [],
        onSubmit: async () => {
          if (!chosen) throw new Error("Choose a free slot first.");
          await api("POST", `/appointments/${appointment.id}/reschedule`, { body: { start: chosen.start }, ifMatch: appointment.version, idempotencyKey: newIdempotencyKey() });
          toast(`Moved to ${dateTime(chosen.start)}.`, "success");
          navigate(`patients/${appointment.patient_id}`);
        },
      });
      return h("div", {}, h("p", {}, `${await patientName(appointment.patient_id)} with ${await practitionerName(appointment.practitioner_id)}, now ${dateTime(appointment.start)}.`), card("New day", day), card("Free slots", picker.slots), move);
    }),
  );
}

function dayList({ query, navigate }) {
  const day = query.date || today();
  return page(
    "Appointments",
    form({
      className: "search",
      submit: "Show",
      fields: [{ name: "date", label: "Day", type: "date", value: day }],
      onSubmit: async ({ date }) => navigate(`appointments?date=${date}`),
    }),
    loader(async (refresh) => {
      const items = await all("/appointments", dayRange(day));
      const rows = await appointmentRows(items.sort((a, b) => a.start.localeCompare(b.start)));
      return table(
        [
          { label: "Time", value: (a) => time(a.start) },
          { label: "Patient", value: (a) => link(`#/patients/${a.patient_id}`, a.patient) },
          { label: "Practitioner", value: (a) => a.practitioner },
          { label: "Status", value: (a) => statusBadge(a.status) },
          { label: "", value: (a) => appointmentActions(a, refresh) },
        ],
        rows,
        { empty: "No appointments on this day.", caption: `${rows.length} appointment(s) on ${day}` },
      );
    }),
  );
}

export const screens = [
  { path: "appointments", label: "Appointments", group: "Front desk", roles: DESK, nav: true, home: ["receptionist"], render: dayList },
  { path: "patients", label: "Patients", group: "Front desk", roles: [...DESK, "billing_clerk", "claims_officer"], nav: true, home: ["admin"], render: patientSearch },
  { path: "patients/new", label: "Register a patient", parent: "patients", roles: ["receptionist"], render: registerPatient },
  { path: "patients/:id", label: "Patient", parent: "patients", roles: [...DESK, "billing_clerk", "claims_officer"], render: patientDetails },
  { path: "book", label: "Book", group: "Front desk", roles: ["receptionist"], nav: true, render: bookAppointment },
  { path: "appointments/:id/reschedule", label: "Reschedule", parent: "appointments", roles: ["receptionist"], render: reschedule },
];
