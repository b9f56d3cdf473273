// Small DOM helpers shared by the console's views.

/** @param {string} selector @returns {any} */
export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * An element with attributes (`on*` functions become listeners) and children.
 * @param {string} tag
 * @param {Object} [attributes]
 * @param {...(Node | string | null | undefined | false)} children
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

const VIEWS = ["sign-in-view", "buckets-view", "browser-view", "keys-view"];

/** Show one view, hide the others, and move focus to it for screen readers. */
export function showView(id) {
  for (const view of VIEWS) $(`#${view}`).hidden = view !== id;
}

let toastTimer = 0;
/** A short message in the polite live region. */
export function toast(message) {
  const status = $("#status");
  status.textContent = message;
  status.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => status.classList.remove("shown"), 4000);
}

/** What an error says to a person: the message, the code and the request id to quote. */
export function describe(error) {
  if (error?.name === "AbortError") return "Cancelled";
  if (error?.code && error.code !== "unknown") {
    return `${error.message} (${error.code}${error.requestId ? `, request ${error.requestId}` : ""})`;
  }
  return error?.message || String(error);
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmAction(text, action = "Delete") {
  const dialog = $("#confirm-dialog");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  $(".confirm-cancel", dialog).focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** Copy an input's text to the clipboard, saying so. */
export async function copyFrom(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    toast("Copied");
  } catch {
    input.select(); // no clipboard access (an insecure origin): leave it selected for Ctrl+C
    toast("Press Ctrl+C to copy");
  }
}

/** Dates as people read them, in their own locale and zone. */
export function formatDate(text) {
  return text ? new Date(text).toLocaleString() : "";
}

// <dialog> elements close from any button marked data-close.
document.addEventListener("click", (event) => {
  const closer = event.target.closest?.("[data-close]");
  if (closer) closer.closest("dialog")?.close();
});
