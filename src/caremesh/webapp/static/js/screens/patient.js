// The patient's own view: appointments (cancel an upcoming one), bills (pay by card), test results and scan reports.
// Everything comes from the API as the patient: it answers only the patient's own records, and 404 for anyone else's.
import { all, api, newIdempotencyKey, retryableWrite } from "../api.js";
import { practitionerName } from "../lookup.js";
import { action, calendarDate, card, dateOf, dateTime, definitionList, form, h, link, loader, money, moneyIn, page, table, toast } from "../ui.js";

const PATIENT = ["patient"];

// Plain words for the API's statuses.
const WORDS = {
  scheduled: "Booked",
  checked_in: "Checked in",
  completed: "Done",
  cancelled: "Cancelled",
  no_show: "Missed",
  issued: "To pay",
  partially_paid: "Partly paid",
  paid: "Paid",
  void: "Cancelled",
  resulted: "Ready",
  reported: "Ready",
  failed: "Failed",
};

function badge(status, words = WORDS) {
  return h("span", { class: `badge status-${String(status).replaceAll("_", "-")}` }, words[status] ?? String(status).replaceAll("_", " "));
}


// --- appointments -----------------------------------------------------------------------------------------------

function myAppointments({ user }) {
  return page(
    "My appointments",
    loader(async (refresh) => {
      const now = new Date().toISOString();
      const items = await Promise.all((await all("/appointments")).map(async (a) => ({ ...a, doctor: await practitionerName(a.practitioner_id) })));
      const upcoming = items.filter((a) => a.start >= now && ["scheduled", "checked_in"].includes(a.status)).sort((a, b) => a.start.localeCompare(b.start));
      const past = items.filter((a) => !upcoming.includes(a)).sort((a, b) => b.start.localeCompare(a.start));
      const cancel = (a) =>
        a.status === "scheduled"
          ? action("Cancel", async () => {
              await api("POST", `/appointments/${a.id}/cancel`, { body: { reason: "Cancelled by the patient" }, idempotencyKey: newIdempotencyKey() });
              toast("Your appointment is cancelled.", "success");
              refresh();
            }, { kind: "danger", confirm: `Cancel your appointment with ${a.doctor} on ${dateTime(a.start)}? The time is given to someone else.` })
          : null;
      const columns = [
        { label: "When", value: (a) => dateTime(a.start) },
        { label: "With", value: (a) => a.doctor },
        { label: "Reason", value: (a) => a.reason || "—" },
        { label: "Status", value: (a) => badge(a.status) },
      ];
      return h(
        "div",
        { class: "stack" },
        h("p", { class: "greeting" }, `Hello, ${user.full_name}. Here are your visits, bills and results.`),
        card("Coming up", table([...columns, { label: "", value: cancel }], upcoming, { empty: "You have no upcoming appointments. To book one, call the clinic." })),
        card("History", table(columns, past, { empty: "No earlier appointments." })),
      );
    }),
  );
}

// --- bills ------------------------------------------------------------------------------------------------------

const KINDS = { consultation: "Visit", medication: "Medicines", lab: "Tests", imaging: "Scans", manual: "Other", premium: "Insurance premium" };
const payable = (invoice) => ["issued", "partially_paid"].includes(invoice.status) && Number(invoice.balance_due) > 0;
const whatFor = (invoice) => invoice.lines.map((line) => line.description).join(", ") || KINDS[invoice.kind] || "—";

function myBills() {
  return page(
    "My bills",
    loader(async () => {
      const invoices = (await all("/invoices")).sort((a, b) => b.issued_at.localeCompare(a.issued_at));
      const owed = invoices.filter(payable);
      const summary = owed.length
        ? h("p", { class: "notice" }, `You have ${owed.length} bill(s) to pay.`)
        : h("p", { class: "notice" }, "Nothing to pay. Thank you!");
      return h(
        "div",
        { class: "stack" },
        summary,
        table(
          [
            { label: "Bill", value: (i) => h("a", { href: `#/my/bills/${i.id}`, class: "nowrap" }, i.number) },
            { label: "Date", value: (i) => dateOf(i.issued_at) },
            { label: "For", value: whatFor },
            { label: "Your share", value: (i) => money(i.patient_amount), class: "num" },
            { label: "Still to pay", value: (i) => money(i.balance_due), class: "num" },
            { label: "Status", value: (i) => badge(i.status) },
            { label: "", value: (i) => (payable(i) ? h("a", { class: "button", href: `#/my/bills/${i.id}`, "aria-label": `Pay ${i.number}` }, "Pay") : null) },
          ],
          invoices,
          { empty: "You have no bills.", caption: `${invoices.length} bill(s), newest first` },
        ),
      );
    }),
  );
}

// Pay a bill: a retry of an unanswered attempt (a double click, a lost connection) reuses its Idempotency-Key, so
// the card is charged once (api.js, retryableWrite).
function payForm(invoice, onPaid) {
  const pay = retryableWrite();
  return form({
    submit: "Pay",
    fields: [
      { name: "amount", label: `Amount (${invoice.currency})`, type: "text", inputmode: "decimal", required: true, value: invoice.balance_due, pattern: "\\d+(\\.\\d{1,2})?", hint: `Up to ${money(invoice.balance_due)}` },
      { name: "card_token", label: "Card token", required: true, hint: "The token your card reader or payment page gives. Demo: tok_visa or tok_mastercard pays, tok_declined is declined." },
    ],
    onSubmit: async ({ amount, card_token }) => {
      const body = { invoice_id: invoice.id, amount, method: "card", card_token: card_token.trim() };
      const payment = await pay("POST", "/payments", { body });
      toast(`Thank you: ${moneyIn(payment.amount, invoice.currency)} paid (${payment.reference}).`, "success");
      onPaid();
    },
  });
}

function notFound(error) {
  if (error.status === 404) throw new Error("We could not find this bill. Check the link, or go back to My bills.");
  throw error;
}

function myBill({ params }) {
  return page(
    "Bill",
    loader(async (refresh) => {
      const invoice = await api("GET", `/invoices/${params.id}`).catch(notFound);
      const payments = (await all("/payments", { invoice_id: invoice.id })).filter((p) => p.status === "completed");
      return h(
        "div",
        { class: "stack" },
        h("h2", {}, `${invoice.number} · ${dateOf(invoice.issued_at)} `, badge(invoice.status)),
        h("div", { class: "row" },
          card("What it is for", table(
            [
              { label: "Item", value: (l) => l.description },
              { label: "Qty", value: (l) => l.quantity, class: "num" },
              { label: "Amount", value: (l) => money(l.amount), class: "num" },
            ],
            invoice.lines,
            { empty: "No items." },
          )),
          card("Summary", definitionList([
            ["Total with tax", money(invoice.total)],
            ["Your insurance pays", money(invoice.insurance_amount)],
            ["Your share", money(invoice.patient_amount)],
            ["You have paid", money(invoice.amount_paid)],
            ["Still to pay", h("strong", {}, moneyIn(invoice.balance_due, invoice.currency))],
          ])),
        ),
        payable(invoice) ? card("Pay by card", payForm(invoice, refresh)) : null,
        card("Your payments", table(
          [
            { label: "Date", value: (p) => dateTime(p.created_at) },
            { label: "Reference", value: (p) => p.reference },
            { label: "Paid by", value: (p) => p.method.replaceAll("_", " ") },
            { label: "Amount", value: (p) => money(p.amount), class: "num" },
          ],
          payments,
          { empty: "No payments yet." },
        )),
        h("p", {}, link("#/my/bills", "← Back to my bills")),
      );
    }),
  );
}

// --- results ----------------------------------------------------------------------------------------------------

// The patient may not read the staff catalogues; the name of an ordered test or scan is on the order's bill, one
// line per item in the order's item order.
async function itemNames() {
  const names = new Map();
  for (const invoice of await all("/invoices")) {
    if (invoice.order_id) invoice.lines.forEach((line, index) => names.set(`${invoice.order_id}/${index + 1}`, line.description));
  }
  return (item, fallback) => names.get(`${item.order_id}/${item.position}`) ?? fallback;
}

function labResult(order, name) {
  const heading = h("h3", {}, name, " ", badge(order.status, { ...WORDS, scheduled: "Not ready yet" }));
  if (order.status === "resulted") {
    return h("article", { class: "result" }, heading, h("p", { class: "muted" }, `Ready ${dateTime(order.resulted_at)}`), table(
      [
        { label: "Measure", value: (v) => v.name },
        { label: "Your result", value: (v) => `${v.value}${v.unit ? ` ${v.unit}` : ""}` },
        { label: "Usual range", value: (v) => (v.reference_range ? `${v.reference_range}${v.unit ? ` ${v.unit}` : ""}` : "—") },
      ],
      order.results || [],
    ));
  }
  if (order.status === "cancelled") return h("article", { class: "result" }, heading, h("p", {}, "This test was cancelled."));
  return h("article", { class: "result" }, heading, h("p", {}, `Booked for ${calendarDate(order.scheduled_date)}. We will let you know when your results are ready.`));
}

function scanReport(order, name) {
  const heading = h("h3", {}, name, " ", badge(order.status, { ...WORDS, scheduled: "Not ready yet" }));
  if (order.report) {
    return h("article", { class: "result" }, heading, h("p", { class: "muted" }, `Reported ${dateTime(order.report.reported_at)}`), definitionList([
      ["Conclusion", h("p", { class: "report-text" }, order.report.impression)],
      ["What the radiologist saw", h("p", { class: "report-text" }, order.report.findings)],
    ]));
  }
  if (order.status === "cancelled") return h("article", { class: "result" }, heading, h("p", {}, "This scan was cancelled."));
  return h("article", { class: "result" }, heading, h("p", {}, `Booked for ${calendarDate(order.scheduled_date)}. We will let you know when the report is ready.`));
}

function myResults() {
  return page(
    "My results",
    h("p", { class: "muted" }, "Questions about a result? Your doctor will go through it with you at your next visit."),
    loader(async () => {
      const [labs, scans, nameOf] = await Promise.all([all("/lab-orders"), all("/imaging-orders"), itemNames()]);
      const newestFirst = (a, b) => b.scheduled_date.localeCompare(a.scheduled_date) || b.created_at.localeCompare(a.created_at);
      return h(
        "div",
        { class: "stack" },
        card("Tests", labs.length ? labs.sort(newestFirst).map((o) => labResult(o, nameOf(o, "Lab test"))) : h("p", { class: "empty" }, "You have no lab tests.")),
        card("Scans", scans.length ? scans.sort(newestFirst).map((o) => scanReport(o, nameOf(o, "Scan"))) : h("p", { class: "empty" }, "You have no scans.")),
      );
    }),
  );
}

export const screens = [
  { path: "my/appointments", label: "My appointments", group: "My care", roles: PATIENT, nav: true, home: PATIENT, render: myAppointments },
  { path: "my/bills", label: "My bills", group: "My care", roles: PATIENT, nav: true, render: myBills },
  { path: "my/bills/:id", label: "Bill", parent: "my/bills", roles: PATIENT, render: myBill },
  { path: "my/results", label: "My results", group: "My care", roles: PATIENT, nav: true, render: myResults },
];
