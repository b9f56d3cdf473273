// The folder browser: breadcrumbs, folders first, sorting, search, pages loaded on scroll.
import { formatBytes } from "./cloudnexus.js";
import { openFile } from "./file-dialog.js";
import { session } from "./session.js";
import { $, confirmAction, describe, el, formatDate, toast } from "./ui.js";

const PAGE_SIZE = 50;
const BATCH_DELETE_MAX = 1000; // the API's limit of ids per batch delete

export const folder = {
  bucket: "", prefix: "", sort: "path", order: "asc", q: "",
  cursor: null, done: false, loading: false, generation: 0,
  folders: new Set(), files: new Map(), selected: new Set(),
};

/** The hash of a folder's page: #/b/{bucket}/{prefix}, each part encoded. */
export function folderHref(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean).map(encodeURIComponent);
  return `#/b/${encodeURIComponent(bucket)}/${parts.map((p) => `${p}/`).join("")}`;
}

export function showFolder(bucket, prefix) {
  if (bucket !== folder.bucket || prefix !== folder.prefix) {
    folder.q = "";
    $("#search").value = "";
  }
  Object.assign(folder, { bucket, prefix });
  renderBreadcrumbs();
  restart();
}

/** Start the listing again from its first page (after a sort, a search or a change). */
export function restart() {
  Object.assign(folder, { cursor: null, done: false, loading: false });
  folder.generation += 1;
  folder.folders.clear();
  folder.files.clear();
  folder.selected.clear();
  $("#folder-rows").replaceChildren();
  $("#file-rows").replaceChildren();
  $("#select-all").checked = false;
  updateSelection();
  loadMore();
}

function renderBreadcrumbs() {
  const crumbs = [[folder.bucket, folderHref(folder.bucket, "")]];
  let path = "";
  for (const part of folder.prefix.split("/").filter(Boolean)) {
    path += `${part}/`;
    crumbs.push([part, folderHref(folder.bucket, path)]);
  }
  $("#breadcrumbs").replaceChildren(el("li", {}, el("a", { href: "#/", text: "Buckets" })),
    ...crumbs.map(([name, href], index) => el("li", {}, el("a", { href, text: name,
      "aria-current": index === crumbs.length - 1 ? "page" : null }))));
  document.title = `${folder.bucket}/${folder.prefix} · CloudNexus console`;
}

/** The next page (and more while a page shows nothing new, e.g. deep in one subfolder). */
async function loadMore() {
  if (folder.loading || folder.done) return;
  folder.loading = true;
  const generation = folder.generation;
  const state = $("#listing-state");
  state.textContent = "Loading…";
  try {
    let shown = 0;
    do {
      const page = await session.cx.listFiles(folder.bucket, { prefix: folder.prefix || undefined,
        q: folder.q || undefined, sort: folder.sort, order: folder.order, limit: PAGE_SIZE,
        cursor: folder.cursor || undefined });
      if (generation !== folder.generation) return;
      shown += addRows(page.items);
      folder.cursor = page.next_cursor;
      folder.done = !page.next_cursor;
    } while (!shown && !folder.done);
  } catch (error) {
    if (generation === folder.generation) state.textContent = describe(error);
    folder.loading = false;
    return;
  }
  folder.loading = false;
  const empty = !folder.files.size && !folder.folders.size;
  state.textContent = empty ? (folder.q ? "Nothing matches." : "This folder is empty.")
    : `${folder.folders.size} folders, ${folder.files.size} files${folder.done ? "" : " so far"}`;
  if (!folder.done && moreInView()) loadMore();
}

function moreInView() {
  return $("#more").getBoundingClientRect().top < window.innerHeight + 200;
}

function addRows(items) {
  let added = 0;
  for (const file of items) {
    const rest = file.path.slice(folder.prefix.length);
    const slash = rest.indexOf("/");
    if (!folder.q && slash >= 0) {
      const name = rest.slice(0, slash);
      if (folder.folders.has(name)) continue;
      folder.folders.add(name);
      insertFolder(name);
    } else {
      folder.files.set(file.id, file);
      $("#file-rows").append(fileRow(file, rest));
    }
    added += 1;
  }
  return added;
}

function insertFolder(name) {
  const row = el("tr", { "data-folder": name }, el("td", { class: "check" }),
    el("td", {}, el("a", { href: folderHref(folder.bucket, `${folder.prefix}${name}/`),
      class: "folder", text: `${name}/` })),
    el("td"), el("td", { class: "wide", text: "Folder" }), el("td", { class: "wide" }));
  const after = [...$("#folder-rows").children].find((r) => r.dataset.folder > name);
  $("#folder-rows").insertBefore(row, after || null);
}

function fileRow(file, name) {
  const box = el("input", { type: "checkbox", "aria-label": `Select ${name}`,
    onchange: () => {
      if (box.checked) folder.selected.add(file.id); else folder.selected.delete(file.id);
      updateSelection();
    } });
  return el("tr", { "data-id": file.id },
    el("td", { class: "check" }, box),
    el("td", {}, el("button", { type: "button", class: "link name", text: name,
      onclick: () => openFile(file, restart) })),
    el("td", { class: "num", text: formatBytes(file.size) }),
    el("td", { class: "wide", text: file.content_type }),
    el("td", { class: "wide", text: formatDate(file.created_at) }));
}

function updateSelection() {
  const count = folder.selected.size;
  const button = $("#delete-selected");
  button.disabled = count === 0;
  button.textContent = count ? `Delete selected (${count})` : "Delete selected";
}

$("#select-all").addEventListener("change", (event) => {
  for (const box of $("#file-rows").querySelectorAll("input[type=checkbox]")) {
    box.checked = event.target.checked;
    box.dispatchEvent(new Event("change"));
  }
});

$("#delete-selected").addEventListener("click", async () => {
  const ids = [...folder.selected];
  const noun = ids.length === 1 ? "file" : "files";
  if (!await confirmAction(`Delete ${ids.length} ${noun}? This cannot be undone.`)) return;
  let deleted = 0;
  try {
    for (let start = 0; start < ids.length; start += BATCH_DELETE_MAX) {
      const ask = { ids: ids.slice(start, start + BATCH_DELETE_MAX) };
      deleted += (await session.cx.deleteFiles(folder.bucket, ask)).deleted;
    }
    toast(`Deleted ${deleted} ${deleted === 1 ? "file" : "files"}`);
  } catch (error) {
    toast(describe(error));
  }
  restart();
});

for (const header of document.querySelectorAll("#file-table th[data-sort]")) {
  $("button", header).addEventListener("click", () => {
    const column = header.dataset.sort;
    folder.order = folder.sort === column && folder.order === "asc" ? "desc" : "asc";
    folder.sort = column;
    for (const other of document.querySelectorAll("#file-table th[data-sort]")) {
      other.setAttribute("aria-sort", other === header
        ? (folder.order === "asc" ? "ascending" : "descending") : "none");
    }
    restart();
  });
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  folder.q = $("#search").value.trim();
  restart();
});
$("#search").addEventListener("search", () => { // the field's own clear button
  if (!$("#search").value && folder.q) { folder.q = ""; restart(); }
});

new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadMore();
}, { rootMargin: "200px" }).observe($("#more"));
