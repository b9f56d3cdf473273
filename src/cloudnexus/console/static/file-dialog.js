// One file: preview (images), facts, Download, Rename, Share with a copy button, Delete.
import { formatBytes } from "./cloudnexus.js";
import { session } from "./session.js";
import { $, confirmAction, copyFrom, describe, el, formatDate, toast } from "./ui.js";

const PREVIEW_BOX = { width: 640, height: 480, fit: "contain" };
const dialog = $("#file-dialog");
let current = null; // { file, onChange }

/** Open the dialog of `file`; `onChange` runs after it was renamed or deleted. */
export function openFile(file, onChange) {
  current = { file, onChange };
  $("#file-title").textContent = file.path;
  $("#file-error").textContent = "";
  $("#rename-form").hidden = true;
  $("#share-form").hidden = true;
  $("#share-result").hidden = true;
  const facts = [["Size", formatBytes(file.size)], ["Type", file.content_type],
    ["Uploaded", formatDate(file.created_at)], ["SHA-256", file.sha256 || "—"]];
  $("#file-facts").replaceChildren(...facts.flatMap(([term, value]) =>
    [el("dt", { text: term }), el("dd", { text: value })]));
  showPreview(file);
  dialog.showModal();
}

/** Images through /preview where the service has it, else their own bytes via /content. */
async function showPreview(file) {
  const image = $("#preview");
  image.hidden = true;
  image.removeAttribute("src");
  if (!file.content_type.startsWith("image/")) return;
  try {
    const preview = session.features.previews ? PREVIEW_BOX : undefined;
    const url = await session.cx.contentUrl(file.id, { preview });
    if (current?.file.id !== file.id) return;
    image.alt = `Preview of ${file.path}`;
    image.src = url;
    image.hidden = false;
  } catch (error) {
    $("#file-error").textContent = `No preview: ${describe(error)}`;
  }
}

$("#download").addEventListener("click", async () => {
  try {
    const url = await session.cx.contentUrl(current.file.id, { download: true });
    const link = el("a", { href: url, download: current.file.path.split("/").pop() });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    $("#file-error").textContent = describe(error);
  }
});

$("#rename").addEventListener("click", () => {
  $("#share-form").hidden = true;
  $("#rename-form").hidden = false;
  $("#new-path").value = current.file.path;
  $("#new-path").focus();
});

$("#rename-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const path = $("#new-path").value.trim();
  try {
    current.file = await session.cx.updateFile(current.file.id, { path },
      { ifMatch: current.file.etag });
  } catch (error) {
    $("#file-error").textContent = describe(error);
    return;
  }
  $("#file-title").textContent = current.file.path;
  $("#rename-form").hidden = true;
  toast(`Renamed to ${current.file.path}`);
  current.onChange();
});

$("#share").addEventListener("click", () => {
  $("#rename-form").hidden = true;
  $("#share-form").hidden = false;
  $("#share-expiry").focus();
});

$("#share-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const max = $("#share-max").value;
  try {
    const link = await session.cx.createLink(current.file.id, {
      expires_in: Number($("#share-expiry").value), max_downloads: max ? Number(max) : undefined });
    $("#share-url").value = link.url;
    $("#share-result").hidden = false;
    $("#copy-link").focus();
  } catch (error) {
    $("#file-error").textContent = describe(error);
  }
});

$("#copy-link").addEventListener("click", () => copyFrom($("#share-url")));

$("#delete").addEventListener("click", async () => {
  const { file, onChange } = current;
  dialog.close();
  if (!await confirmAction(`Delete ${file.path}? This cannot be undone.`)) return;
  try {
    await session.cx.deleteFile(file.id);
    toast(`Deleted ${file.path}`);
  } catch (error) {
    toast(describe(error));
  }
  onChange();
});

dialog.addEventListener("close", () => { $("#preview").removeAttribute("src"); });
