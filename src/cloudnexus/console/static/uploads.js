// Uploads into the open folder: the Upload button (several files) and drag-and-drop of files
// and folders, each with a progress bar and a Cancel button. Large files go in parts.
import { formatBytes } from "./cloudnexus.js";
import { folder, restart } from "./files.js";
import { session } from "./session.js";
import { $, describe, el, toast } from "./ui.js";

const AT_ONCE = 3; // files sent at the same time (each multipart file sends parts in parallel too)
const queue = [];
const inFlight = new Set(); // "bucket/path" of this tab's queued and running uploads
let running = 0;

/** Upload files into the open folder; `path` is each file's path below it. */
export function enqueue(items) {
  for (const { file, path } of items) {
    const row = uploadRow(file, folder.prefix + path);
    inFlight.add(`${folder.bucket}/${folder.prefix}${path}`);
    queue.push({ file, bucket: folder.bucket, path: folder.prefix + path, ...row });
  }
  pump();
}

function uploadRow(file, path) {
  for (const hint of document.querySelectorAll("#uploads li.interrupted")) {
    if (hint.firstChild.textContent === path) hint.remove();
  }
  const controller = new AbortController();
  const bar = el("progress", { max: file.size || 1, value: 0, "aria-label": `Upload of ${path}` });
  const text = el("span", { class: "upload-text", text: "Waiting" });
  const cancel = el("button", { type: "button", "aria-label": `Cancel upload of ${path}`,
    text: "Cancel", onclick: () => controller.abort() });
  const row = el("li", { class: "upload" }, el("span", { class: "upload-name", text: path }),
    bar, text, cancel);
  $("#uploads").append(row);
  return { controller, bar, text, cancel, row };
}

async function pump() {
  while (running < AT_ONCE && queue.length) {
    running += 1;
    const job = queue.shift();
    send(job).finally(() => {
      inFlight.delete(`${job.bucket}/${job.path}`);
      running -= 1;
      if (!running && !queue.length) restart();
      pump();
    });
  }
}

async function send(job) {
  const { file, bucket, path, controller, bar, text, cancel } = job;
  if (controller.signal.aborted) {
    text.textContent = "Cancelled";
    cancel.remove();
    return;
  }
  text.textContent = "Starting";
  try {
    const result = await session.cx.upload(file, { bucket, path, signal: controller.signal,
      onProgress: (sent, total) => {
        bar.value = sent;
        text.textContent = `${formatBytes(sent)} of ${formatBytes(total)}`;
      } });
    bar.value = bar.max;
    text.textContent = result.resumed ? "Done (resumed)" : "Done";
    job.row.dataset.way = result.way;
  } catch (error) {
    text.textContent = describe(error);
    job.row.classList.add("failed");
  }
  cancel.remove();
}

/** Uploads into this bucket that a reload or a closed tab interrupted: say how to resume. */
export function showInterrupted() {
  for (const row of document.querySelectorAll("#uploads li.interrupted")) row.remove();
  for (const entry of session.cx.interruptedUploads()) {
    if (entry.bucket !== folder.bucket || inFlight.has(`${entry.bucket}/${entry.path}`)) continue;
    const row = el("li", { class: "upload interrupted" },
      el("span", { class: "upload-name", text: entry.path }),
      el("span", { class: "upload-text", text: `Interrupted: upload ${entry.name} ` +
        `(${formatBytes(entry.size)}) here again to resume` }),
      el("button", { type: "button", "aria-label": `Discard upload of ${entry.path}`,
        text: "Discard", onclick: async () => {
          await session.cx.discardUpload(entry).catch((error) => toast(describe(error)));
          row.remove();
        } }));
    $("#uploads").append(row);
  }
}

$("#upload").addEventListener("click", () => $("#upload-input").click());
$("#upload-input").addEventListener("change", (event) => {
  enqueue([...event.target.files].map((file) => ({ file, path: file.name })));
  event.target.value = "";
});

// Drag and drop. Entries must be taken during the drop event itself, before any await.
const zone = $("#browser-view");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("dropping");
});
zone.addEventListener("dragleave", () => zone.classList.remove("dropping"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("dropping");
  const dropped = [...event.dataTransfer.items].filter((item) => item.kind === "file")
    .map((item) => ({ entry: item.webkitGetAsEntry?.(), file: item.getAsFile() }));
  Promise.all(dropped.map(({ entry, file }) => entry?.isDirectory ? walk(entry)
    : [{ file, path: file.name }]))
    .then((lists) => enqueue(lists.flat()))
    .catch((error) => { $("#listing-state").textContent = describe(error); });
});

/** Every file under a dropped folder, with its path from the folder's own name down. */
async function walk(directory) {
  const reader = directory.createReader();
  const found = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const entry of batch) {
      if (entry.isDirectory) found.push(...await walk(entry));
      else {
        const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
        found.push({ file, path: entry.fullPath.replace(/^\//, "") });
      }
    }
  }
  return found;
}
