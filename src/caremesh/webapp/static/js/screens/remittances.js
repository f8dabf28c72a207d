// Remittances: post a payer's remittance (POST /reconciliation/process, JSON), the list, one remittance's items.
import { all, api, may, retryableWrite } from "../api.js";
import { card, confirm, dateTime, definitionList, field, form, h, link, loader, money, moneyIn, page, table, toast } from "../ui.js";

const OFFICERS = ["claims_officer"];

function remittanceList({ query, user }) {
  const poster = may(user, OFFICERS);
  return page(
    "Remittances",
    poster ? h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/remittances/new" }, "Post a remittance")) : null,
    loader(async () => {
      const answer = await api("GET", "/reconciliation/remittances", { query: { payer_code: query.payer_code, limit: 100 } });
      return table(
        [
          { label: "Received", value: (r) => dateTime(r.received_at) },
          { label: "Remittance", value: (r) => link(`#/remittances/${r.id}`, r.remittance_id) },
          { label: "Payer", value: (r) => r.payer_code },
          { label: "Format", value: (r) => (r.format === "x12_835" ? "X12 835" : "JSON") },
          { label: "Paid", value: (r) => moneyIn(r.paid_total, r.currency), class: "num" },
          { label: "Posted", value: (r) => `${moneyIn(r.posted_amount, r.currency)} (${r.posted_count})`, class: "num" },
          { label: "Unmatched", value: (r) => `${moneyIn(r.unmatched_amount, r.currency)} (${r.unmatched_count})`, class: "num" },
        ],
        answer.items,
        { empty: "No remittance has been posted yet.", caption: `${answer.items.length}${answer.next_cursor ? "+" : ""} remittance(s), newest first` },
      );
    }),
  );
}

// One line of the remittance: a claim number, what the payer paid on it, its adjustment codes.
function itemRow(n, values = {}) {
  return h(
    "fieldset",
    { class: "remittance-item" },
    h("legend", {}, `Item ${n}`),
    h(
      "div",
      { class: "fields" },
      field({ name: `claim_number_${n}`, label: `Claim number (item ${n})`, required: n === 1, value: values.claim_number, placeholder: "CLM-2026-000001" }),
      field({ name: `paid_amount_${n}`, label: `Paid amount (item ${n})`, required: n === 1, inputmode: "decimal", value: values.paid_amount, pattern: "\\d+(\\.\\d{1,2})?" }),
      field({ name: `adjustment_codes_${n}`, label: `Adjustment codes (item ${n})`, value: values.adjustment_codes, hint: "Group-reason, comma separated, e.g. CO-45" }),
    ),
  );
}

function itemsOf(values) {
  const items = [];
  for (let n = 1; `claim_number_${n}` in values; n++) {
    const claim_number = values[`claim_number_${n}`].trim();
    if (!claim_number) continue;
    const codes = values[`adjustment_codes_${n}`].split(/[\s,]+/).filter(Boolean);
    items.push({ claim_number, paid_amount: values[`paid_amount_${n}`].trim(), adjustment_codes: codes });
  }
  return items;
}

function postRemittance({ query, navigate }) {
  return page(
    "Post a remittance",
    loader(async () => {
      const payers = await all("/payers");
      const items = h("div", { class: "remittance-items" }, itemRow(1, query));
      let count = 1;
      const more = h("button", { type: "button", class: "secondary" }, "Add an item");
      more.addEventListener("click", () => {
        items.append(itemRow(++count));
        items.lastElementChild.querySelector("input").focus();
      });
      // Posting the same remittance again after no answer cannot post it twice (api.js, retryableWrite; the server
      // also recognises a remittance it has seen by its id).
      const post = retryableWrite();
      const entry = form({
        className: "remittance",
        submit: "Post remittance",
        fields: [
          { name: "remittance_id", label: "Remittance number", required: true, hint: "The payer's number for this payment advice (EFT/EOB)" },
          { name: "payer_code", label: "Payer", type: "select", required: true, placeholder: "Choose…", value: query.payer_code, options: payers.map((p) => [p.code, `${p.name} (${p.code})`]) },
        ],
        extra: [items, h("div", { class: "actions" }, more)],
        onSubmit: async (values) => {
          const body = { remittance_id: values.remittance_id.trim(), payer_code: values.payer_code, items: itemsOf(values) };
          const total = body.items.reduce((sum, item) => sum + Math.round(Number(item.paid_amount) * 100), 0) / 100;
          if (!(await confirm(`Post remittance ${body.remittance_id} from ${body.payer_code}: ${body.items.length} item(s), ${money(total.toFixed(2))} in all? Payments are posted to the claims and their invoices.`, "Post remittance"))) return;
          const posted = await post("POST", "/reconciliation/process", { body });
          toast(`Remittance ${posted.remittance_id}: ${posted.posted.length} posted, ${posted.unmatched.length} unmatched.`, posted.unmatched.length ? "info" : "success");
          navigate(`remittances/${posted.id}`);
        },
      });
      return card(null, entry);
    }),
  );
}

function remittanceDetail({ params }) {
  return page(
    "Remittance",
    loader(async () => {
      const r = await api("GET", `/reconciliation/remittances/${params.id}`);
      const c = r.currency;
      return h(
        "div",
        {},
        h("h2", {}, `${r.remittance_id} · ${r.payer_code}`),
        card(
          null,
          definitionList([
            ["Received", dateTime(r.received_at)],
            ["Format", r.format === "x12_835" ? "X12 835" : "JSON"],
            ["Paid in all", moneyIn(r.paid_total, c)],
            ["Posted", moneyIn(r.posted_amount, c)],
            ["Unmatched", moneyIn(r.unmatched_amount, c)],
          ]),
        ),
        card(
          "Posted to claims",
          table(
            [
              { label: "Claim", value: (i) => link(`#/claims/${i.claim_id}`, i.claim_number) },
              { label: "Paid", value: (i) => moneyIn(i.paid_amount, c), class: "num" },
              { label: "Adjustments", value: (i) => i.adjustment_codes.join(", ") || "—" },
            ],
            r.posted,
            { empty: "Nothing was posted." },
          ),
        ),
        card(
          "Unmatched",
          table(
            [
              { label: "Claim number", value: (i) => i.claim_number },
              { label: "Paid", value: (i) => moneyIn(i.paid_amount, c), class: "num" },
              { label: "Why", value: (i) => i.reason },
            ],
            r.unmatched,
            { empty: "Every item matched a claim." },
          ),
        ),
        h("div", { class: "actions" }, link("#/remittances", "All remittances")),
      );
    }),
  );
}

export const screens = [
  { path: "remittances", label: "Remittances", group: "Claims", roles: [...OFFICERS, "billing_clerk"], nav: true, render: remittanceList },
  { path: "remittances/new", label: "Post a remittance", parent: "remittances", roles: OFFICERS, render: postRemittance },
  { path: "remittances/:id", label: "Remittance", parent: "remittances", roles: [...OFFICERS, "billing_clerk"], render: remittanceDetail },
];
