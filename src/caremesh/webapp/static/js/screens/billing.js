// Billing: invoices (filters, detail), take a payment (one Idempotency-Key per attempt), refunds, void, credit notes,
// the invoice and a payment's receipt as PDF.
import { api, may, newIdempotencyKey, retryableWrite, unanswered } from "../api.js";
import { patient, patientLabel, patientName } from "../lookup.js";
import { action, card, compact, confirm, dateTime, definitionList, form, h, link, loader, moneyIn, page, replace, statusBadge, table, toast } from "../ui.js";

const PAYERS = ["billing_clerk", "receptionist"]; // payments:create
const OFFICE = ["billing_clerk"]; // invoices:write, payments:refund
const READERS = [...PAYERS, "claims_officer"];
const CLAIM_READERS = ["billing_clerk", "claims_officer"]; // claims:read
const STATUSES = [["issued", "Issued"], ["partially_paid", "Partially paid"], ["paid", "Paid"], ["void", "Void"]];
const METHODS = [["cash", "Cash"], ["card", "Card"], ["upi", "UPI"], ["bank_transfer", "Bank transfer"]];

const cents = (value) => Math.round(Number(value) * 100);
const positive = (value) => cents(value) > 0;

// --- invoices list ---------------------------------------------------------------------------------------------

function invoiceTable(invoices) {
  return table(
    [
      { label: "Invoice", value: (i) => link(`#/invoices/${i.id}`, i.number) },
      { label: "Patient", value: (i) => link(`#/invoices?patient_id=${i.patient_id}`, i.patient) },
      { label: "Kind", value: (i) => i.kind.replaceAll("_", " ") },
      { label: "Issued", value: (i) => dateTime(i.issued_at) },
      { label: "Total", value: (i) => moneyIn(i.total, i.currency), class: "num" },
      { label: "Patient share", value: (i) => moneyIn(i.patient_amount, i.currency), class: "num" },
      { label: "Balance", value: (i) => moneyIn(i.balance_due, i.currency), class: "num" },
      { label: "Status", value: (i) => statusBadge(i.status) },
    ],
    invoices,
    { empty: "No invoice matches these filters." },
  );
}

// Fetch a printable document (Accept: application/pdf) and open it in a new tab; a link stays in `slot` in case
// the browser blocked the tab.
export function pdfButton(label, path, filename, slot) {
  const where = slot || h("div", { class: "form-error", role: "alert" });
  return action(
    label,
    async () => {
      const response = await api("GET", path, { accept: "application/pdf", raw: true });
      if (!(response.headers.get("content-type") || "").includes("application/pdf")) throw new Error("The server did not send a PDF for this document.");
      const url = URL.createObjectURL(await response.blob());
      const tab = window.open(url, "_blank");
      replace(where, h("p", { class: "notice" }, tab ? `${filename} opened in a new tab. ` : "The browser blocked the new tab. ", h("a", { href: url, download: filename }, `Download ${filename}`)));
      setTimeout(() => URL.revokeObjectURL(url), 5 * 60_000);
    },
    { kind: "secondary", errorSlot: where },
  );
}

function invoiceList({ query, navigate }) {
  const patientFilter = query.patient_id
    ? h("p", { class: "notice" }, "Invoices of ", h("strong", { class: "patient-name" }, "…"), ". ", link(`#/invoices${query.status ? `?status=${query.status}` : ""}`, "Show every patient"))
    : null;
  if (patientFilter) patientName(query.patient_id).then((name) => (patientFilter.querySelector(".patient-name").textContent = name));
  const matches = h("div", { "aria-live": "polite" });
  const filters = form({
    className: "search",
    submit: "Filter",
    fields: [
      { name: "status", label: "Status", type: "select", placeholder: "Any status", options: STATUSES, value: query.status },
      { name: "q", label: "Patient name", placeholder: "Family or given name", value: "" },
    ],
    onSubmit: async ({ status, q }) => {
      if (!q) return navigate(`invoices?${new URLSearchParams(compact({ status, patient_id: query.patient_id }))}`);
      const found = await api("GET", "/patients", { query: { q, limit: 20 } });
      if (found.items.length === 1) return navigate(`invoices?${new URLSearchParams(compact({ status, patient_id: found.items[0].id }))}`);
      replace(
        matches,
        found.items.length
          ? card("Choose the patient", h("ul", { class: "choices" }, found.items.map((p) => h("li", {}, link(`#/invoices?${new URLSearchParams(compact({ status, patient_id: p.id }))}`, `${patientLabel(p)} · born ${p.date_of_birth}`)))))
          : h("p", { class: "empty" }, "No patient matches that name."),
      );
    },
  });
  const results = h("div", {});
  let cursor = null;
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const load = async () => {
    const answer = await api("GET", "/invoices", { query: { patient_id: query.patient_id, status: query.status, limit: 50, cursor } });
    const rows = await Promise.all(answer.items.map(async (i) => ({ ...i, patient: await patientName(i.patient_id) })));
    cursor = answer.next_cursor;
    more.hidden = !cursor;
    return rows;
  };
  let shown = [];
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      shown = shown.concat(await load());
      replace(results, invoiceTable(shown));
    } finally {
      more.disabled = false;
    }
  });
  return page(
    "Invoices",
    patientFilter,
    card(null, filters),
    matches,
    loader(async () => {
      shown = await load();
      replace(results, invoiceTable(shown));
      return h("div", {}, results, h("div", { class: "actions" }, more));
    }),
  );
}

// --- invoice detail --------------------------------------------------------------------------------------------

function totals(invoice) {
  const c = invoice.currency;
  return definitionList([
    ["Subtotal", moneyIn(invoice.subtotal, c)],
    ["Discount", `${invoice.discount_percent} % · ${moneyIn(invoice.discount_amount, c)}`],
    ["Tax", `${(Number(invoice.tax_rate) * 100).toFixed(2).replace(/\.?0+$/, "")} % · ${moneyIn(invoice.tax_amount, c)}`],
    ["Total", h("strong", {}, moneyIn(invoice.total, c))],
    ["Insurance share", `${moneyIn(invoice.insurance_amount, c)} (${invoice.coverage_percent} %)`],
    ["Paid by insurer", moneyIn(invoice.insurance_paid, c)],
    ["Patient share", moneyIn(invoice.patient_amount, c)],
    ["Credited", moneyIn(invoice.credited_amount, c)],
    ["Paid by patient", moneyIn(invoice.amount_paid, c)],
    ["Balance due", h("strong", { class: "balance" }, moneyIn(invoice.balance_due, c))],
  ]);
}

// Take a payment: a retry of an unanswered attempt (a double click, a lost connection) reuses its Idempotency-Key,
// so the card is charged once (api.js, retryableWrite).
function paymentForm(invoice, done) {
  const pay = retryableWrite();
  const failed = h("div", { class: "payment-outcome", "aria-live": "polite" });
  const element = form({
    className: "take-payment",
    submit: "Pay",
    fields: [
      { name: "amount", label: "Amount", type: "text", inputmode: "decimal", required: true, value: invoice.balance_due, pattern: "\\d+(\\.\\d{1,2})?", hint: `Balance due ${moneyIn(invoice.balance_due, invoice.currency)}` },
      { name: "method", label: "Method", type: "select", options: METHODS, value: "cash", required: true },
      { name: "card_token", label: "Card token", hint: "From the card terminal (e.g. tok_visa)" },
    ],
    extra: [failed],
    onSubmit: async (values) => {
      const body = compact({ invoice_id: invoice.id, amount: values.amount, method: values.method, card_token: values.method === "card" ? values.card_token : "" });
      replace(failed);
      try {
        const payment = await pay("POST", "/payments", { body });
        toast(`Payment ${payment.reference} of ${moneyIn(payment.amount, invoice.currency)} recorded.`, "success");
        done();
      } catch (error) {
        if (unanswered(error)) replace(failed, h("p", { class: "notice" }, "Pressing Pay again retries this same payment safely: it cannot be charged twice."));
        throw error;
      }
    },
  });
  const method = element.querySelector("[name=method]");
  const token = element.querySelector("[name=card_token]").closest(".field");
  const showToken = () => (token.hidden = method.value !== "card");
  method.addEventListener("change", showToken);
  showToken();
  return element;
}

// A form whose submit asks first (irreversible steps): "Go back" leaves everything as it was.
function confirmedForm({ question, confirmLabel, ...spec }) {
  const onSubmit = spec.onSubmit;
  return form({
    ...spec,
    onSubmit: async (values, element) => {
      if (!(await confirm(typeof question === "function" ? question(values) : question, confirmLabel || spec.submit))) return;
      await onSubmit(values, element);
    },
  });
}

function refundForm(invoice, payment, done) {
  const send = retryableWrite();
  const open = (cents(payment.amount) - cents(payment.refunded_amount)) / 100;
  return confirmedForm({
    className: "refund",
    submit: "Refund",
    confirmLabel: "Refund",
    question: ({ amount }) => `Refund ${moneyIn(amount, invoice.currency)} of payment ${payment.reference} (${payment.method.replaceAll("_", " ")})? A refund cannot be undone.`,
    fields: [
      { name: "amount", label: "Refund amount", inputmode: "decimal", required: true, value: open.toFixed(2), pattern: "\\d+(\\.\\d{1,2})?" },
      { name: "reason", label: "Reason", required: true, wide: true },
    ],
    onSubmit: async ({ amount, reason }) => {
      const refund = await send("POST", `/payments/${payment.id}/refunds`, { body: { amount, reason } });
      toast(`Refund ${refund.reference} of ${moneyIn(refund.amount, invoice.currency)} issued.`, "success");
      done();
    },
  });
}

function paymentsCard(invoice, payments, refunds, user, refresh) {
  const slot = h("div", {});
  const documents = h("div", { class: "form-error", role: "alert" });
  const canRefund = may(user, OFFICE);
  const rows = table(
    [
      { label: "Reference", value: (p) => p.reference },
      { label: "When", value: (p) => dateTime(p.created_at) },
      { label: "Method", value: (p) => p.method.replaceAll("_", " ") },
      { label: "Amount", value: (p) => moneyIn(p.amount, p.currency), class: "num" },
      { label: "Refunded", value: (p) => moneyIn(p.refunded_amount, p.currency), class: "num" },
      { label: "Status", value: (p) => h("span", {}, statusBadge(p.status), p.failure_reason ? ` ${p.failure_reason}` : "") },
      {
        label: "",
        value: (p) =>
          p.status !== "completed"
            ? ""
            : h(
                "div",
                { class: "actions compact" },
                pdfButton("Receipt", `/payments/${p.id}/receipt`, `${p.reference}.pdf`, documents),
                canRefund && cents(p.refunded_amount) < cents(p.amount)
                  ? h("button", { type: "button", class: "secondary", onclick: () => replace(slot, card(`Refund ${p.reference}`, refundForm(invoice, p, refresh))) }, "Refund")
                  : null,
              ),
      },
    ],
    payments,
    { empty: "No payment yet." },
  );
  const refundRows = refunds.length
    ? table(
        [
          { label: "Refund", value: (r) => r.reference },
          { label: "Payment", value: (r) => payments.find((p) => p.id === r.payment_id)?.reference ?? "—" },
          { label: "When", value: (r) => dateTime(r.created_at) },
          { label: "Amount", value: (r) => moneyIn(r.amount, r.currency), class: "num" },
          { label: "Reason", value: (r) => r.reason },
        ],
        refunds,
        { caption: "Refunds" },
      )
    : null;
  return card("Payments", rows, documents, slot, refundRows);
}

function creditNotesCard(invoice, notes, user, refresh) {
  const list = table(
    [
      { label: "Credit note", value: (n) => n.number },
      { label: "When", value: (n) => dateTime(n.created_at) },
      { label: "Amount", value: (n) => moneyIn(n.amount, n.currency), class: "num" },
      { label: "Reason", value: (n) => n.reason },
    ],
    notes,
    { empty: "No credit note." },
  );
  const open = ["issued", "partially_paid"].includes(invoice.status) && positive(invoice.balance_due);
  if (!may(user, OFFICE) || !open) return card("Credit notes", list);
  const send = retryableWrite();
  const issue = confirmedForm({
    className: "credit-note",
    submit: "Issue credit note",
    confirmLabel: "Issue credit note",
    question: ({ amount }) => `Issue a credit note of ${moneyIn(amount, invoice.currency)} on ${invoice.number}? It lowers what the patient owes and cannot be withdrawn.`,
    fields: [
      { name: "amount", label: "Credit amount", inputmode: "decimal", required: true, pattern: "\\d+(\\.\\d{1,2})?" },
      { name: "reason", label: "Credit reason", required: true, wide: true },
    ],
    onSubmit: async ({ amount, reason }) => {
      const note = await send("POST", `/invoices/${invoice.id}/credit-notes`, { body: { amount, reason } });
      toast(`Credit note ${note.number} issued.`, "success");
      refresh();
    },
  });
  return card("Credit notes", list, h("h3", {}, "New credit note"), issue);
}

function invoiceActions(invoice, payments, notes, claims, user, refresh) {
  const errorSlot = h("div", { class: "form-error", role: "alert" });
  const buttons = [pdfButton("Print invoice", `/invoices/${invoice.id}`, `${invoice.number}.pdf`, errorSlot)];
  const voidable = ["issued"].includes(invoice.status) && !payments.some((p) => p.status === "completed") && !notes.length;
  if (may(user, OFFICE) && voidable) {
    buttons.push(
      action(
        "Void invoice",
        async () => {
          await api("POST", `/invoices/${invoice.id}/void`, { body: { reason: "Voided at the billing desk" }, ifMatch: invoice.version, idempotencyKey: newIdempotencyKey() });
          toast(`${invoice.number} is void.`, "success");
          refresh();
        },
        { kind: "danger", errorSlot, confirm: `Void invoice ${invoice.number} of ${moneyIn(invoice.total, invoice.currency)}? A void invoice cannot be paid or reopened.` },
      ),
    );
  }
  const open = claims.filter((c) => !["rejected", "withdrawn"].includes(c.status));
  if (may(user, ["claims_officer"]) && positive(invoice.insurance_amount) && invoice.status !== "void" && !open.length) {
    buttons.push(
      action("Claim from the insurer", async () => {
        const claim = await api("POST", "/claims", { body: { invoice_id: invoice.id }, idempotencyKey: newIdempotencyKey() });
        toast(`Draft claim ${claim.number} created.`, "success");
        location.hash = `#/claims/${claim.id}`;
      }, { kind: "secondary", errorSlot }),
    );
  }
  buttons.push(link(`#/invoices?patient_id=${invoice.patient_id}`, "The patient's invoices"));
  return h("div", {}, h("div", { class: "actions" }, buttons), errorSlot);
}

function invoiceDetail({ params, user }) {
  return page(
    "Invoice",
    loader(async (refresh) => {
      const invoice = await api("GET", `/invoices/${params.id}`);
      const [who, payments, refunds, notes, claims] = await Promise.all([
        patient(invoice.patient_id),
        api("GET", "/payments", { query: { invoice_id: invoice.id, limit: 200 } }).then((r) => r.items),
        api("GET", "/refunds", { query: { invoice_id: invoice.id, limit: 200 } }).then((r) => r.items),
        api("GET", "/credit-notes", { query: { invoice_id: invoice.id, limit: 200 } }).then((r) => r.items),
        may(user, CLAIM_READERS) ? api("GET", "/claims", { query: { invoice_id: invoice.id, limit: 50 } }).then((r) => r.items) : null,
      ]);
      const payable = ["issued", "partially_paid"].includes(invoice.status) && positive(invoice.balance_due);
      const lines = table(
        [
          { label: "Code", value: (l) => l.code },
          { label: "Description", value: (l) => l.description },
          { label: "Qty", value: (l) => l.quantity, class: "num" },
          { label: "Unit price", value: (l) => moneyIn(l.unit_price), class: "num" },
          { label: "Amount", value: (l) => moneyIn(l.amount), class: "num" },
        ],
        invoice.lines,
        { caption: "Lines" },
      );
      return h(
        "div",
        { class: "invoice" },
        h("h2", { class: "invoice-title" }, invoice.number, " ", statusBadge(invoice.status)),
        invoiceActions(invoice, payments, notes, claims || [], user, refresh),
        h(
          "div",
          { class: "row" },
          card(
            "Invoice",
            definitionList([
              ["Patient", who ? link(`#/patients/${who.id}`, patientLabel(who)) : "—"],
              ["Kind", invoice.kind.replaceAll("_", " ")],
              ["Service date", invoice.service_date],
              ["Issued", dateTime(invoice.issued_at)],
              ["Claims", claims ? (claims.length ? claims.map((c, n) => [n ? ", " : "", link(`#/claims/${c.id}`, c.number), ` (${c.status.replaceAll("_", " ")})`]) : "None") : undefined],
              ["Insurance", invoice.insurance_bin ? `BIN ${invoice.insurance_bin}${invoice.insurance_pcn ? ` / PCN ${invoice.insurance_pcn}` : ""}` : "None"],
              invoice.void_reason ? ["Void", `${dateTime(invoice.voided_at)} · ${invoice.void_reason}`] : ["Paid", invoice.paid_at ? dateTime(invoice.paid_at) : "—"],
            ]),
          ),
          card("Amounts", totals(invoice)),
        ),
        card(null, lines),
        payable && may(user, PAYERS) ? card("Take a payment", paymentForm(invoice, refresh)) : null,
        paymentsCard(invoice, payments, refunds, user, refresh),
        creditNotesCard(invoice, notes, user, refresh),
      );
    }),
  );
}

export const screens = [
  { path: "invoices", label: "Invoices", group: "Billing", roles: READERS, nav: true, home: ["billing_clerk"], render: invoiceList },
  { path: "invoices/:id", label: "Invoice", parent: "invoices", roles: READERS, render: invoiceDetail },
];
