// API keys (list, create shown once with a copy button, revoke), and webhooks when present.
import { session } from "./session.js";
import { $, confirmAction, copyFrom, describe, el, formatDate, toast } from "./ui.js";

export async function showKeys() {
  $("#new-key").hidden = true;
  $("#new-key-value").value = "";
  const keys = await session.cx.listKeys();
  $("#key-table tbody").replaceChildren(...keys.map(keyRow));
  $("#webhooks").hidden = !session.features.webhooks;
  if (session.features.webhooks) {
    const hooks = await session.cx.listWebhooks();
    $("#webhook-list").replaceChildren(...hooks.map(webhookItem));
  }
}

/** A webhook, its latest deliveries loaded when opened. */
function webhookItem(hook) {
  const deliveries = el("ul", { class: "deliveries" });
  const details = el("details", {}, el("summary", { text: `${hook.url} — ` +
    `${(hook.events || ["all events"]).join(", ")}${hook.disabled ? " (disabled)" : ""}` }),
  deliveries);
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    try {
      const answer = await session.cx.request("GET", `/v1/webhooks/${hook.id}/deliveries`);
      deliveries.replaceChildren(...answer.items.map((d) => el("li", { text:
        `${formatDate(d.created_at)}: attempt ${d.attempt}, ` +
        `${d.status_code ?? d.error ?? "no answer"} (${d.duration_ms} ms)` })));
    } catch (error) {
      deliveries.replaceChildren(el("li", { text: describe(error) }));
    }
  });
  return el("li", {}, details);
}

function keyRow(key) {
  const state = key.revoked_at ? "revoked" : key.expires_at && new Date(key.expires_at) < new Date()
    ? "expired" : "active";
  const revoke = key.revoked_at ? null : el("button", { type: "button", class: "danger",
    "aria-label": `Revoke ${key.name}`, text: "Revoke", onclick: () => revokeKey(key) });
  return el("tr", { "data-key": key.id },
    el("td", { text: key.name }), el("td", { text: key.scopes.join(", ") }),
    el("td", { class: "wide", text: formatDate(key.last_used_at) || "never" }),
    el("td", { text: state }), el("td", {}, revoke));
}

async function revokeKey(key) {
  const question = `Revoke the key ${key.name}? Whatever uses it stops working at once.`;
  if (!await confirmAction(question, "Revoke")) return;
  try {
    await session.cx.revokeKey(key.id);
    toast(`Revoked ${key.name}`);
  } catch (error) {
    toast(describe(error));
  }
  await showKeys();
}

$("#key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const scopes = [...document.querySelectorAll("#key-form input[name=scope]:checked")]
    .map((box) => box.value);
  $("#key-error").textContent = "";
  let created;
  try {
    created = await session.cx.createKey({ name: $("#key-name").value.trim(), scopes });
  } catch (error) {
    $("#key-error").textContent = describe(error);
    return;
  }
  await showKeys();
  $("#key-form").reset();
  $("#new-key-value").value = created.key;
  $("#new-key").hidden = false;
  $("#copy-key").focus();
});

$("#copy-key").addEventListener("click", () => copyFrom($("#new-key-value")));
