// Buckets: the list with each one's usage, the workspace's usage against its quota, New bucket.
import { formatBytes } from "./cloudnexus.js";
import { session } from "./session.js";
import { $, describe, el, toast } from "./ui.js";

/** A bar of `used` against `limit` (a <meter>), or the figure alone when there is no limit. */
function usageBar(label, used, limit, format) {
  const text = limit === null ? `${format(used)} (no limit)` : `${format(used)} of ${format(limit)}`;
  const id = `usage-${label.toLowerCase().replace(/\W+/g, "-")}`;
  return el("div", { class: "usage-row" },
    el("span", { id, class: "usage-label", text: label }),
    limit === null ? null : el("meter", { min: 0, max: limit, value: used, low: limit * 0.8,
      high: limit * 0.95, optimum: 0, "aria-labelledby": id, "aria-describedby": `${id}-text` }),
    el("span", { id: `${id}-text`, class: "usage-text", text }));
}

export async function showBuckets() {
  const cx = session.cx;
  const [workspace, buckets] = await Promise.all([cx.workspace(), cx.listBuckets()]);
  const count = (n) => n.toLocaleString();
  $("#usage-bars").replaceChildren(
    usageBar("Storage", workspace.usage.bytes, workspace.quota.max_bytes, formatBytes),
    usageBar("Files", workspace.usage.files, workspace.quota.max_files, count));
  const detailed = await Promise.all(buckets.map((bucket) => cx.getBucket(bucket.name)));
  $("#bucket-table tbody").replaceChildren(...detailed.map((bucket) => el("tr", {},
    el("td", {}, el("a", { href: `#/b/${encodeURIComponent(bucket.name)}/`, text: bucket.name })),
    el("td", { text: count(bucket.usage.files) }),
    el("td", { text: formatBytes(bucket.usage.bytes) }),
    el("td", { class: "wide", text: describeRules(bucket) }))));
  $("#no-buckets").hidden = buckets.length > 0;
}

function describeRules(bucket) {
  const rules = [bucket.public ? "public" : "private"];
  if (bucket.max_file_size) rules.push(`≤ ${formatBytes(bucket.max_file_size)}`);
  if (bucket.allowed_content_types) rules.push(bucket.allowed_content_types.join(", "));
  return rules.join(" · ");
}

$("#new-bucket").addEventListener("click", () => {
  $("#bucket-form").reset();
  $("#bucket-error").textContent = "";
  $("#bucket-dialog").showModal();
});

$("#bucket-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const megabytes = $("#bucket-max").value;
  const types = $("#bucket-types").value.split(",").map((t) => t.trim()).filter(Boolean);
  const body = {
    name: $("#bucket-name").value.trim(),
    public: $("#bucket-public").checked,
    max_file_size: megabytes ? Math.round(Number(megabytes) * 1e6) : null,
    allowed_content_types: types.length ? types : null,
  };
  try {
    await session.cx.createBucket(body);
  } catch (error) {
    $("#bucket-error").textContent = describe(error);
    return;
  }
  $("#bucket-dialog").close();
  toast(`Bucket ${body.name} created`);
  await showBuckets();
});
