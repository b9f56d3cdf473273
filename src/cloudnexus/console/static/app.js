// The console's entry: sign in and out, and the views by the address's hash
// (#/, #/b/{bucket}/{folder}/, #/keys). The key is never part of the address.
import { showBuckets } from "./buckets.js";
import { showFolder } from "./files.js";
import { showKeys } from "./keys.js";
import { detectService, restore, session, signIn, signOut } from "./session.js";
import { $, describe, showView, toast } from "./ui.js";
import { showInterrupted } from "./uploads.js";

async function route() {
  if (!session.cx) {
    showView("sign-in-view");
    $("#nav").hidden = true;
    $("#api-key").focus();
    return;
  }
  $("#nav").hidden = false;
  const hash = location.hash.replace(/^#\/?/, "");
  try {
    if (hash.startsWith("b/")) {
      const [bucket, ...folders] = hash.slice(2).split("/");
      const prefix = folders.filter(Boolean).map((part) => `${decodeURIComponent(part)}/`).join("");
      showView("browser-view");
      showFolder(decodeURIComponent(bucket), prefix);
      showInterrupted();
    } else if (hash === "keys") {
      showView("keys-view");
      document.title = "Keys · CloudNexus console";
      await showKeys();
    } else {
      showView("buckets-view");
      document.title = "Buckets · CloudNexus console";
      await showBuckets();
    }
  } catch (error) {
    if (error.status === 401) { // the key was revoked meanwhile
      signOut();
      $("#sign-in-error").textContent = "Your key no longer works: sign in again.";
      route();
      return;
    }
    toast(describe(error));
  }
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = $("#api-key");
  const error = $("#sign-in-error");
  error.textContent = "";
  try {
    await signIn(field.value.trim());
  } catch (failure) {
    error.textContent = failure.status === 401
      ? "That API key is not valid: it is unknown, revoked or expired."
      : describe(failure);
    field.focus();
    return;
  }
  field.value = "";
  await detectService();
  route();
  $("#main").focus();
});

$("#sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "#/";
  route();
});

window.addEventListener("hashchange", () => {
  route();
  $("#main").focus({ preventScroll: true });
});

if (restore()) await detectService();
route();
