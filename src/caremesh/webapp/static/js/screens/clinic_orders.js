// Orders from a visit: a prescription, a lab test or an imaging study. The order saga confirms asynchronously, so
// after `POST /orders` (202, pending) the screen polls the order a few times and shows where it ended.
import { all, api, newIdempotencyKey } from "../api.js";
import { action, card, dateTime, form, h, loader, replace, statusBadge, table } from "../ui.js";

const POLLS = 16;
const POLL_INTERVAL_MS = 750;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const TYPE_LABEL = { prescription: "Prescription", lab: "Lab test", imaging: "Imaging study" };

function itemText(item, names) {
  if (item.medication_id) return `${names.get(item.medication_id) || "Medication"} × ${item.quantity}${item.dosage ? ` (${item.dosage})` : ""}`;
  return names.get(item.lab_test_id || item.imaging_study_id) || "—";
}

function spinner(text) {
  return h("p", { class: "loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), ` ${text}`);
}

function outcome(order, status, settled) {
  if (order.status === "failed") {
    return h("div", { class: "problem" }, h("strong", {}, `Order ${order.number} failed.`), ` ${reasonText(order.failure_reason)} `, order.failure_reason ? h("code", {}, order.failure_reason) : null);
  }
  if (order.status === "pending") {
    const again = action("Check again", async () => settled(await follow(order, status, settled)), { kind: "secondary" });
    return h("p", { class: "notice" }, `Order ${order.number} is still pending: the pharmacy, lab or radiology has not answered yet. `, again);
  }
  return h("p", { class: "notice order-ok" }, `Order ${order.number}: `, statusBadge(order.status), order.status === "confirmed" ? " — booked and invoiced." : null);
}

const REASONS = {
  INSUFFICIENT_STOCK: "Not enough stock in the pharmacy for every item; nothing was reserved.",
  NO_LAB_CAPACITY: "The lab has no free capacity within 14 days.",
  NO_IMAGING_CAPACITY: "Radiology has no free capacity within 14 days.",
};

function reasonText(code) {
  return REASONS[code] || "The order could not be completed and every step taken was undone.";
}

// Polls the order until it leaves `pending` (or gives up), showing progress in `status`; `settled` runs after.
async function follow(order, status, settled) {
  for (let attempt = 0; order.status === "pending" && attempt < POLLS; attempt++) {
    replace(status, spinner(`Order ${order.number} placed: waiting for confirmation…`));
    await pause(POLL_INTERVAL_MS);
    order = await api("GET", `/orders/${order.id}`);
  }
  replace(status, outcome(order, status, settled));
  return order;
}

export function ordersCard(visit, user) {
  const status = h("div", { class: "order-status", role: "status", "aria-live": "polite" });
  const listSlot = h("div", {});
  return card(
    "Orders",
    loader(async () => {
      const [medications, labTests, studies] = await Promise.all([all("/medications"), all("/lab-tests"), all("/imaging-studies")]);
      const names = new Map([...medications, ...labTests, ...studies].map((item) => [item.id, item.name]));
      const showList = () => replace(listSlot, ordersList(visit, names));
      showList();
      const place = async (type, items, element) => {
        const body = { patient_id: visit.patient_id, practitioner_id: user.practitioner_id || visit.practitioner_id, type, items };
        const placed = await api("POST", "/orders", { body, idempotencyKey: newIdempotencyKey() });
        element.reset();
        showList();
        await follow(placed, status, showList);
        showList();
      };
      const forms = [
        card("Prescription", form({
          submit: "Prescribe",
          fields: [
            { name: "medication_id", label: "Medication", type: "select", required: true, placeholder: "Choose…", options: medications.map((m) => [m.id, `${m.name} · ${m.unit} · ${m.available_quantity} available`]) },
            { name: "quantity", label: "Quantity to dispense", type: "number", required: true, min: 1, max: 10000, step: "1", inputmode: "numeric" },
            { name: "dosage", label: "Dosage", placeholder: "e.g. 1 tablet twice a day", wide: true },
          ],
          onSubmit: async (values, element) => {
            const item = { medication_id: values.medication_id, quantity: Number(values.quantity) };
            if (values.dosage) item.dosage = values.dosage;
            await place("prescription", [item], element);
          },
        })),
        card("Lab test", form({
          submit: "Order lab test",
          fields: [{ name: "lab_test_id", label: "Lab test", type: "select", required: true, placeholder: "Choose…", options: labTests.map((t) => [t.id, `${t.name}${t.loinc ? ` (LOINC ${t.loinc})` : ""}`]) }],
          onSubmit: async (values, element) => place("lab", [{ lab_test_id: values.lab_test_id }], element),
        })),
        card("Imaging study", form({
          submit: "Order imaging study",
          fields: [{ name: "imaging_study_id", label: "Imaging study", type: "select", required: true, placeholder: "Choose…", options: studies.map((s) => [s.id, `${s.name} (${s.modality})`]) }],
          onSubmit: async (values, element) => place("imaging", [{ imaging_study_id: values.imaging_study_id }], element),
        })),
      ];
      return h("div", {}, h("div", { class: "order-forms" }, forms), status, h("h3", {}, "The patient's orders"), listSlot);
    }),
  );
}

function ordersList(visit, names) {
  return loader(async () => {
    const orders = (await all("/orders", { patient_id: visit.patient_id })).reverse();
    return table(
      [
        { label: "Order", value: (o) => o.number },
        { label: "Placed", value: (o) => dateTime(o.created_at) },
        { label: "Type", value: (o) => TYPE_LABEL[o.type] || o.type },
        { label: "Items", value: (o) => o.items.map((item) => itemText(item, names)).join("; ") },
        { label: "Status", value: (o) => [statusBadge(o.status), o.failure_reason ? h("code", { class: "reason" }, ` ${o.failure_reason}`) : null] },
      ],
      orders,
      { empty: "No orders for this patient yet.", caption: "Newest first" },
    );
  });
}
