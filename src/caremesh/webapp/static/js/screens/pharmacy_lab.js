// Pharmacy, lab and radiology worklists: reservations to dispense and stock, lab results to enter, imaging studies
// to report. Each role starts on its own worklist.
import { all, api, newIdempotencyKey } from "../api.js";
import { patientName } from "../lookup.js";
import { action, card, confirm, dateTime, definitionList, field, form, h, link, loader, page, statusBadge, table, toast } from "../ui.js";

const PHARMACY = ["pharmacist"];
const LAB = ["lab_technician"];
const RADIOLOGY = ["radiologist"];

// A catalogue (medications, lab tests, imaging studies) by id, read once per screen.
async function catalogue(path) {
  return new Map((await all(path)).map((item) => [item.id, item]));
}

async function withPatientNames(rows) {
  return Promise.all(rows.map(async (row) => ({ ...row, patient: await patientName(row.patient_id) })));
}

// A status filter that keeps the choice in the URL, so a reload or a shared link shows the same list.
function statusFilter(path, statuses, current, navigate) {
  return form({
    className: "search",
    submit: "Show",
    fields: [{ name: "status", label: "Status", type: "select", value: current, options: statuses.map((s) => [s, s.replaceAll("_", " ")]) }],
    onSubmit: async ({ status }) => navigate(`${path}?status=${status}`),
  });
}

const waiting = () => h("span", { class: "muted" }, "Waiting for the order to be confirmed");

// --- pharmacy ---------------------------------------------------------------------------------------------------

// The prescriber's directions (dosage) for each reservation: the order's item at the reservation's position.
async function directions(reservations) {
  const orders = new Map();
  for (const id of new Set(reservations.map((r) => r.order_id))) orders.set(id, api("GET", `/orders/${id}`).catch(() => null));
  const found = new Map(await Promise.all([...orders].map(async ([id, order]) => [id, await order])));
  return (r) => found.get(r.order_id)?.items[r.position - 1]?.dosage ?? "";
}

function reservations({ query, navigate }) {
  const status = query.status || "reserved";
  return page(
    "Prescriptions to dispense",
    statusFilter("pharmacy/reservations", ["reserved", "dispensed", "released", "failed"], status, navigate),
    loader(async (refresh) => {
      const [items, medications] = await Promise.all([all("/pharmacy/reservations", { status }), catalogue("/medications")]);
      const rows = await withPatientNames(items);
      const directionsOf = await directions(rows);
      const medicationOf = (r) => medications.get(r.medication_id);
      const dispense = (r) => {
        if (r.status !== "reserved") return r.dispensed_at ? `Dispensed ${dateTime(r.dispensed_at)}` : "";
        if (!r.order_confirmed) return waiting();
        const medication = medicationOf(r);
        const button = action("Dispense", async () => {
          await api("POST", `/pharmacy/reservations/${r.id}/dispense`, { idempotencyKey: newIdempotencyKey() });
          toast(`Dispensed ${r.quantity} × ${medication?.name ?? "medication"} for ${r.patient}.`, "success");
          refresh();
        }, { confirm: `Dispense ${r.quantity} ${medication?.unit ?? ""} of ${medication?.name ?? "this medication"} to ${r.patient}? The quantity leaves the stock.` });
        button.setAttribute("aria-label", `Dispense ${medication?.name ?? "medication"} for ${r.patient}`);
        return button;
      };
      return table(
        [
          { label: "Ordered", value: (r) => dateTime(r.created_at) },
          { label: "Patient", value: (r) => r.patient },
          { label: "Medication", value: (r) => medicationOf(r)?.name ?? "Unknown medication" },
          { label: "Quantity", value: (r) => `${r.quantity} ${medicationOf(r)?.unit ?? ""}`, class: "num" },
          { label: "Directions", value: (r) => directionsOf(r) || "—" },
          { label: "Status", value: (r) => statusBadge(r.status) },
          { label: "", value: dispense },
        ],
        rows,
        { empty: `No ${status.replaceAll("_", " ")} prescriptions.`, caption: `${rows.length} prescription item(s), oldest first` },
      );
    }),
  );
}

function stock() {
  return page(
    "Stock",
    loader(async (refresh) => {
      const medications = await all("/medications");
      const restock = form({
        className: "search",
        submit: "Restock",
        fields: [
          { name: "medication_id", label: "Medication", type: "select", required: true, placeholder: "Choose…", options: medications.map((m) => [m.id, `${m.name} (${m.code})`]) },
          { name: "quantity", label: "Quantity received", type: "number", required: true, min: 1, step: 1, inputmode: "numeric" },
        ],
        onSubmit: async ({ medication_id, quantity }) => {
          const updated = await api("POST", `/medications/${medication_id}/restock`, { body: { quantity: Number(quantity) }, idempotencyKey: newIdempotencyKey() });
          toast(`${updated.name}: ${updated.stock_quantity} ${updated.unit} in stock.`, "success");
          refresh();
        },
      });
      const low = (m) => m.available_quantity < 20;
      return h(
        "div",
        { class: "stack" },
        card("Restock", restock),
        table(
          [
            { label: "Code", value: (m) => m.code },
            { label: "Medication", value: (m) => m.name },
            { label: "Unit", value: (m) => m.unit },
            { label: "In stock", value: (m) => m.stock_quantity, class: "num" },
            { label: "Reserved", value: (m) => m.reserved_quantity, class: "num" },
            { label: "Available", value: (m) => (low(m) ? h("strong", { class: "low-stock", title: "Low stock" }, `${m.available_quantity} (low)`) : m.available_quantity), class: "num" },
          ],
          medications,
          { empty: "No medications in the catalogue.", caption: `${medications.length} medication(s)` },
        ),
      );
    }),
  );
}

// --- lab --------------------------------------------------------------------------------------------------------

function labWorklist({ query, navigate }) {
  const status = query.status || "scheduled";
  return page(
    "Lab tests to result",
    statusFilter("lab/orders", ["scheduled", "resulted", "cancelled"], status, navigate),
    loader(async () => {
      const [items, tests] = await Promise.all([all("/lab-orders", { status }), catalogue("/lab-tests")]);
      const rows = (await withPatientNames(items)).sort((a, b) => a.scheduled_date.localeCompare(b.scheduled_date));
      return table(
        [
          { label: "Booked for", value: (o) => o.scheduled_date },
          { label: "Patient", value: (o) => o.patient },
          { label: "Test", value: (o) => tests.get(o.lab_test_id)?.name ?? "Unknown test" },
          { label: "Status", value: (o) => statusBadge(o.status) },
          {
            label: "",
            value: (o) => {
              if (o.status !== "scheduled") return link(`#/lab/orders/${o.id}`, "View");
              if (!o.order_confirmed) return waiting();
              return h("a", { class: "button", href: `#/lab/orders/${o.id}` }, "Enter result");
            },
          },
        ],
        rows,
        { empty: `No ${status} lab tests.`, caption: `${rows.length} lab test(s), earliest first` },
      );
    }),
  );
}

function resultValues(results) {
  return table(
    [
      { label: "Measure", value: (v) => v.name },
      { label: "Result", value: (v) => v.value },
      { label: "Unit", value: (v) => v.unit || "—" },
      { label: "Reference range", value: (v) => v.reference_range || "—" },
    ],
    results || [],
    { empty: "No values." },
  );
}

// One row of a result: measure, result, unit and reference range, labelled with the row's number.
function valueRow(n, name = "") {
  return [
    field({ name: `name_${n}`, label: `Measure ${n}`, required: n === 1, value: name }),
    field({ name: `value_${n}`, label: `Result ${n}`, required: n === 1 }),
    field({ name: `unit_${n}`, label: `Unit ${n}` }),
    field({ name: `reference_range_${n}`, label: `Reference range ${n}`, placeholder: "e.g. 13.0–17.0" }),
  ];
}

function collectValues(values) {
  const rows = [];
  for (let n = 1; `name_${n}` in values; n++) {
    const row = { name: values[`name_${n}`].trim(), value: values[`value_${n}`].trim(), unit: values[`unit_${n}`].trim(), reference_range: values[`reference_range_${n}`].trim() };
    if (!row.name && !row.value && !row.unit && !row.reference_range) continue;
    if (!row.name || !row.value) throw new Error(`Row ${n}: give both the measure and its result.`);
    rows.push(Object.fromEntries(Object.entries(row).filter(([, v]) => v)));
  }
  if (!rows.length) throw new Error("Enter at least one result.");
  return rows;
}

function labOrder({ params, navigate }) {
  return page(
    "Lab result",
    loader(async () => {
      const order = await api("GET", `/lab-orders/${params.id}`);
      const [test, patient] = await Promise.all([api("GET", `/lab-tests/${order.lab_test_id}`), patientName(order.patient_id)]);
      const facts = card(null, definitionList([
        ["Patient", patient],
        ["Test", `${test.name}${test.loinc ? ` (LOINC ${test.loinc})` : ""}`],
        ["Booked for", order.scheduled_date],
        ["Status", statusBadge(order.status)],
        ["Resulted", order.resulted_at ? dateTime(order.resulted_at) : undefined],
      ]));
      if (order.status !== "scheduled") return h("div", { class: "stack" }, facts, card("Results", resultValues(order.results)));
      if (!order.order_confirmed) return h("div", { class: "stack" }, facts, h("p", { class: "notice" }, "The order is not confirmed yet: results can be entered once it is."));
      let rows = 1;
      const more = h("button", { type: "button", class: "secondary" }, "Add another value");
      const entry = form({
        submit: "Save the result",
        fields: [],
        extra: [h("div", { class: "actions" }, more)],
        onSubmit: async (values) => {
          const body = { values: collectValues(values) };
          if (!(await confirm(`Record ${body.values.length} value(s) of ${test.name} for ${patient}? Results are recorded once and the patient is told they are ready.`, "Save the result"))) return;
          await api("POST", `/lab-orders/${order.id}/result`, { body, idempotencyKey: newIdempotencyKey() });
          toast(`${test.name} resulted for ${patient}.`, "success");
          navigate("lab/orders");
        },
      });
      const fields = entry.querySelector(".fields");
      fields.classList.add("result-rows");
      fields.append(...valueRow(1, test.name));
      more.addEventListener("click", () => {
        rows += 1;
        const added = valueRow(rows);
        fields.append(...added);
        added[0].querySelector("input").focus();
      });
      return h("div", { class: "stack" }, facts, card("Enter the result", entry));
    }),
  );
}

// --- radiology --------------------------------------------------------------------------------------------------

function imagingWorklist({ query, navigate }) {
  const status = query.status || "scheduled";
  return page(
    "Imaging studies to report",
    statusFilter("imaging/orders", ["scheduled", "reported", "cancelled"], status, navigate),
    loader(async () => {
      const [items, studies] = await Promise.all([all("/imaging-orders", { status }), catalogue("/imaging-studies")]);
      const rows = (await withPatientNames(items)).sort((a, b) => a.scheduled_date.localeCompare(b.scheduled_date));
      const studyOf = (o) => studies.get(o.imaging_study_id);
      return table(
        [
          { label: "Booked for", value: (o) => o.scheduled_date },
          { label: "Patient", value: (o) => o.patient },
          { label: "Study", value: (o) => studyOf(o)?.name ?? "Unknown study" },
          { label: "Modality", value: (o) => studyOf(o)?.modality ?? "—" },
          { label: "Status", value: (o) => statusBadge(o.status) },
          {
            label: "",
            value: (o) => {
              if (o.status !== "scheduled") return link(`#/imaging/orders/${o.id}`, "View");
              if (!o.order_confirmed) return waiting();
              return h("a", { class: "button", href: `#/imaging/orders/${o.id}` }, "Report");
            },
          },
        ],
        rows,
        { empty: `No ${status} imaging studies.`, caption: `${rows.length} imaging study(ies), earliest first` },
      );
    }),
  );
}

function imagingReport(report) {
  return definitionList([
    ["Findings", h("p", { class: "report-text" }, report.findings)],
    ["Impression", h("p", { class: "report-text" }, report.impression)],
    ["Reported", dateTime(report.reported_at)],
  ]);
}

function imagingOrder({ params, navigate }) {
  return page(
    "Imaging report",
    loader(async () => {
      const order = await api("GET", `/imaging-orders/${params.id}`);
      const [study, patient] = await Promise.all([api("GET", `/imaging-studies/${order.imaging_study_id}`), patientName(order.patient_id)]);
      const facts = card(null, definitionList([
        ["Patient", patient],
        ["Study", `${study.name} (${study.modality})`],
        ["Booked for", order.scheduled_date],
        ["Status", statusBadge(order.status)],
      ]));
      if (order.report) return h("div", { class: "stack" }, facts, card("Report", imagingReport(order.report)));
      if (order.status !== "scheduled") return h("div", { class: "stack" }, facts, h("p", { class: "notice" }, "This study was cancelled."));
      if (!order.order_confirmed) return h("div", { class: "stack" }, facts, h("p", { class: "notice" }, "The order is not confirmed yet: the study can be reported once it is."));
      const entry = form({
        submit: "Sign the report",
        fields: [
          { name: "findings", label: "Findings", type: "textarea", rows: 8, required: true, wide: true },
          { name: "impression", label: "Impression", type: "textarea", rows: 3, required: true, wide: true },
        ],
        onSubmit: async ({ findings, impression }) => {
          if (!(await confirm(`Sign the report of ${study.name} for ${patient}? A signed report cannot be changed and the patient is told it is ready.`, "Sign the report"))) return;
          await api("POST", `/imaging-orders/${order.id}/report`, { body: { findings, impression }, idempotencyKey: newIdempotencyKey() });
          toast(`${study.name} reported for ${patient}.`, "success");
          navigate("imaging/orders");
        },
      });
      return h("div", { class: "stack" }, facts, card("Report", entry));
    }),
  );
}

export const screens = [
  { path: "pharmacy/reservations", label: "To dispense", group: "Pharmacy & lab", roles: PHARMACY, nav: true, home: PHARMACY, render: reservations },
  { path: "pharmacy/stock", label: "Stock", group: "Pharmacy & lab", roles: PHARMACY, nav: true, render: stock },
  { path: "lab/orders", label: "Lab worklist", group: "Pharmacy & lab", roles: LAB, nav: true, home: LAB, render: labWorklist },
  { path: "lab/orders/:id", label: "Lab result", parent: "lab/orders", roles: LAB, render: labOrder },
  { path: "imaging/orders", label: "Imaging worklist", group: "Pharmacy & lab", roles: RADIOLOGY, nav: true, home: RADIOLOGY, render: imagingWorklist },
  { path: "imaging/orders/:id", label: "Imaging report", parent: "imaging/orders", roles: RADIOLOGY, render: imagingOrder },
];
