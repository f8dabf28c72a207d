// Claims: a worklist by status, a claim's lines, diagnoses and history, submit / process / approve / reject /
// withdraw, the 837P; remittances (post one, the list, one remittance's items) are in remittances.js.
import { api, may, newIdempotencyKey } from "../api.js";
import { patientName } from "../lookup.js";
import { action, card, confirm, dateTime, definitionList, form, h, link, loader, money, moneyIn, page, replace, statusBadge, table, toast } from "../ui.js";
import { screens as remittances } from "./remittances.js";

export const OFFICERS = ["claims_officer"];
export const WORKLIST = [
  ["draft", "Draft"],
  ["submitted", "Submitted"],
  ["approved", "Approved"],
  ["partially_approved", "Partially approved"],
  ["rejected", "Rejected"],
  ["paid", "Paid"],
  ["withdrawn", "Withdrawn"],
  ["", "All"],
];


function claimActions(claim, user, refresh, errorSlot) {
  if (!may(user, OFFICERS)) return null;
  const buttons = [];
  const post = (verb, body) => api("POST", `/claims/${claim.id}/${verb}`, { body, idempotencyKey: newIdempotencyKey() });
  if (claim.status === "draft") {
    buttons.push(
      action("Submit", async () => {
        const sent = await post("submit");
        toast(`${sent.number} submitted to ${sent.payer_code}.`, "success");
        refresh();
      }, { errorSlot, confirm: `Submit claim ${claim.number} for ${moneyIn(claim.claimed_amount, claim.currency)} to ${claim.payer_code}? A submitted claim can no longer be edited.` }),
    );
  }
  if (claim.status === "submitted") {
    buttons.push(
      action("Process", async () => {
        const decided = await post("process");
        toast(`${decided.number}: ${decided.status.replaceAll("_", " ")} (${moneyIn(decided.approved_amount, decided.currency)}).`, "success");
        refresh();
      }, { errorSlot, confirm: `Adjudicate claim ${claim.number} against the patient's scheme now? The decision is final (it can only be disputed).` }),
    );
  }
  if (["draft", "submitted"].includes(claim.status)) {
    buttons.push(
      action("Withdraw", async () => {
        await post("withdraw", { reason: "Withdrawn by the claims office" });
        toast(`${claim.number} withdrawn.`, "success");
        refresh();
      }, { kind: "danger", errorSlot, confirm: `Withdraw claim ${claim.number}? The invoice may be claimed again with a new claim.` }),
    );
  }
  return buttons.length ? h("div", { class: "actions compact" }, buttons) : null;
}

function worklist({ query, user }) {
  const status = query.status ?? "submitted";
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Claims by status" },
    WORKLIST.map(([value, label]) => h("a", { href: `#/claims?status=${value}`, "aria-current": value === status ? "page" : undefined }, label)),
  );
  const errorSlot = h("div", { class: "form-error", role: "alert" });
  return page(
    "Claims worklist",
    tabs,
    errorSlot,
    loader(async (refresh) => {
      const answer = await api("GET", "/claims", { query: { status, limit: 100 } });
      const rows = await Promise.all(answer.items.map(async (c) => ({ ...c, patient: await patientName(c.patient_id) })));
      const label = WORKLIST.find(([value]) => value === status)?.[1] ?? status;
      return table(
        [
          { label: "Claim", value: (c) => link(`#/claims/${c.id}`, c.number) },
          { label: "Patient", value: (c) => c.patient },
          { label: "Payer", value: (c) => c.payer_code },
          { label: "Service date", value: (c) => c.service_date },
          { label: "Claimed", value: (c) => moneyIn(c.claimed_amount, c.currency), class: "num" },
          { label: "Approved", value: (c) => moneyIn(c.approved_amount, c.currency), class: "num" },
          { label: "Paid", value: (c) => moneyIn(c.paid_amount, c.currency), class: "num" },
          { label: "Status", value: (c) => statusBadge(c.status) },
          { label: "", value: (c) => claimActions(c, user, refresh, errorSlot) },
        ],
        rows,
        { empty: `No ${status ? label.toLowerCase() : ""} claims.`, caption: `${rows.length}${answer.next_cursor ? "+" : ""} ${status ? label.toLowerCase() : ""} claim(s)` },
      );
    }),
  );
}

// --- one claim ---------------------------------------------------------------------------------------------------

function decideForms(claim, refresh) {
  const approve = form({
    className: "approve",
    submit: "Approve",
    fields: [{ name: "approved_amount", label: "Approved amount", inputmode: "decimal", required: true, value: claim.claimed_amount, pattern: "\\d+(\\.\\d{1,2})?" }],
    onSubmit: async ({ approved_amount }) => {
      if (!(await confirm(`Approve claim ${claim.number} for ${moneyIn(approved_amount, claim.currency)}?`, "Approve"))) return;
      await api("POST", `/claims/${claim.id}/approve`, { body: { approved_amount }, idempotencyKey: newIdempotencyKey() });
      toast(`${claim.number} approved.`, "success");
      refresh();
    },
  });
  const reject = form({
    className: "reject",
    submit: "Reject",
    fields: [
      { name: "reason_code", label: "Reason code (CARC)", required: true, hint: "e.g. 50 (not medically necessary), 27 (coverage ended)", pattern: "[A-Za-z0-9]{1,5}" },
      { name: "reason", label: "Rejection reason", required: true, wide: true },
    ],
    onSubmit: async (values) => {
      if (!(await confirm(`Reject claim ${claim.number}? It can then only be disputed.`, "Reject"))) return;
      await api("POST", `/claims/${claim.id}/reject`, { body: values, idempotencyKey: newIdempotencyKey() });
      toast(`${claim.number} rejected.`, "success");
      refresh();
    },
  });
  return card("Decide by hand", h("div", { class: "row" }, h("div", { class: "decide" }, h("h3", {}, "Approve"), approve), h("div", { class: "decide" }, h("h3", {}, "Reject"), reject)));
}

// A draft's diagnoses (ICD-10-CM, in the order they apply): a claim for a visit takes the visit's at submission,
// a claim without a visit needs them here.
function diagnosesForm(claim, refresh) {
  return form({
    className: "diagnoses",
    submit: "Save diagnoses",
    fields: [{ name: "diagnosis_codes", label: "Diagnosis codes (ICD-10-CM)", value: claim.diagnosis_codes.join(", "), hint: "Comma separated, principal first, e.g. I10, E11.9", wide: true }],
    onSubmit: async ({ diagnosis_codes }) => {
      const codes = diagnosis_codes.split(/[\s,]+/).filter(Boolean).map((code) => code.toUpperCase().replace(".", ""));
      await api("PATCH", `/claims/${claim.id}`, { body: { diagnosis_codes: codes }, ifMatch: claim.version });
      toast(`Diagnoses of ${claim.number} saved.`, "success");
      refresh();
    },
  });
}

// The 837P as the API renders it, shown as text and downloadable.
function x12Card(claim) {
  const body = h("div", {});
  const show = action("Show the 837P", async () => {
    const text = await api("GET", `/claims/${claim.id}/x12`, { accept: "text/plain" });
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    replace(
      body,
      h("div", { class: "actions" }, h("a", { class: "button secondary", href: url, download: `${claim.number}-837P.x12` }, `Download ${claim.number}-837P.x12`)),
      h("pre", { class: "x12", tabindex: "0", "aria-label": "837P interchange" }, text.replaceAll("~", "~\n")),
    );
  }, { kind: "secondary", errorSlot: body });
  return card("837P (ASC X12 005010X222A1)", h("div", { class: "actions" }, show), body);
}

function claimDetail({ params, user }) {
  return page(
    "Claim",
    loader(async (refresh) => {
      const claim = await api("GET", `/claims/${params.id}`);
      const [history, who] = await Promise.all([api("GET", `/claims/${claim.id}/history`, { query: { limit: 200 } }).then((r) => r.items), patientName(claim.patient_id)]);
      const errorSlot = h("div", { class: "form-error", role: "alert" });
      const c = claim.currency;
      const paidLater = ["approved", "partially_approved"].includes(claim.status) && may(user, OFFICERS);
      return h(
        "div",
        { class: "claim" },
        h("h2", {}, claim.number, " ", statusBadge(claim.status)),
        h(
          "div",
          { class: "actions" },
          claimActions(claim, user, refresh, errorSlot),
          paidLater
            ? h("a", { class: "button secondary", href: `#/remittances/new?${new URLSearchParams({ payer_code: claim.payer_code, claim_number: claim.number, paid_amount: claim.approved_amount })}` }, "Post the payer's remittance")
            : null,
          link("#/claims?status=" + claim.status, "Back to the worklist"),
        ),
        errorSlot,
        h(
          "div",
          { class: "row" },
          card(
            "Claim",
            definitionList([
              ["Patient", who],
              ["Invoice", link(`#/invoices/${claim.invoice_id}`, claim.invoice_number)],
              ["Payer", claim.payer_code],
              ["Member", claim.member_id],
              ["Category", claim.category],
              ["Service date", claim.service_date],
              ["Diagnoses", claim.diagnosis_codes.length ? claim.diagnosis_codes.join(", ") : "None yet (taken from the visit at submission)"],
              claim.rejection_reason ? ["Rejected", `${claim.rejection_reason_code}: ${claim.rejection_reason}`] : ["Submitted", dateTime(claim.submitted_at)],
            ]),
          ),
          card(
            "Amounts",
            definitionList([
              ["Total charge", moneyIn(claim.total_charge, c)],
              ["Claimed", h("strong", {}, moneyIn(claim.claimed_amount, c))],
              ["Approved", moneyIn(claim.approved_amount, c)],
              ["Paid", moneyIn(claim.paid_amount, c)],
              ["Adjudicated", dateTime(claim.adjudicated_at)],
              ["Paid on", dateTime(claim.paid_at)],
            ]),
          ),
        ),
        card(
          "Lines",
          table(
            [
              { label: "#", value: (l) => l.position, class: "num" },
              { label: "Code", value: (l) => l.code },
              { label: "Description", value: (l) => l.description },
              { label: "Qty", value: (l) => l.quantity, class: "num" },
              { label: "Charge", value: (l) => moneyIn(l.charge_amount, c), class: "num" },
              { label: "Claimed", value: (l) => moneyIn(l.claimed_amount, c), class: "num" },
              { label: "Approved", value: (l) => moneyIn(l.approved_amount, c), class: "num" },
              { label: "Adjustments", value: (l) => (l.adjustments.length ? l.adjustments.map((a) => `${a.group_code}-${a.reason_code} ${money(a.amount)}`).join("; ") : "—") },
            ],
            claim.lines,
          ),
        ),
        claim.status === "draft" && may(user, OFFICERS) ? card("Diagnoses", diagnosesForm(claim, refresh)) : null,
        claim.status === "submitted" && may(user, OFFICERS) ? decideForms(claim, refresh) : null,
        x12Card(claim),
        card(
          "History",
          table(
            [
              { label: "When", value: (e) => dateTime(e.occurred_at) },
              { label: "Action", value: (e) => e.action.replaceAll("_", " ") },
              { label: "From", value: (e) => (e.from_status ? statusBadge(e.from_status) : "—") },
              { label: "To", value: (e) => statusBadge(e.to_status) },
              { label: "Approved", value: (e) => moneyIn(e.approved_amount, c), class: "num" },
              { label: "Note", value: (e) => e.note || "—" },
            ],
            history,
          ),
        ),
      );
    }),
  );
}

export const screens = [
  { path: "claims", label: "Claims worklist", group: "Claims", roles: [...OFFICERS, "billing_clerk"], nav: true, home: OFFICERS, render: worklist },
  { path: "claims/:id", label: "Claim", parent: "claims", roles: [...OFFICERS, "billing_clerk"], render: claimDetail },
  ...remittances,
];
