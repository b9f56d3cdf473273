// The signed-in session: the client, and what the service offers. The key lives in this tab's
// sessionStorage only: never localStorage, a cookie or the URL.
import { CloudNexus } from "./cloudnexus.js";

const KEY_ITEM = "cloudnexus.key";
/** The API's base path: the console is served at {base}/console/. */
export const apiBase = location.pathname.replace(/\/console(\/.*)?$/, "");

export const session = {
  /** @type {CloudNexus | null} */
  cx: null,
  features: { webhooks: false, previews: false },
  /** The server's upload limits (served beside the console), so no upload learns them by a 413. */
  limits: null,
};

function connect(key) {
  const cx = new CloudNexus({ url: apiBase, key });
  if (session.limits) cx.directLimit = session.limits.direct_upload_max_bytes;
  return cx;
}

export function restore() {
  const key = sessionStorage.getItem(KEY_ITEM);
  session.cx = key ? connect(key) : null;
  return session.cx;
}

/** Check a key against the service; keep it for this tab only when it works. */
export async function signIn(key) {
  const cx = new CloudNexus({ url: apiBase, key, retries: 1 });
  const workspace = await cx.workspace();
  sessionStorage.setItem(KEY_ITEM, key);
  session.cx = connect(key);
  return workspace;
}

export function signOut() {
  sessionStorage.removeItem(KEY_ITEM);
  session.cx = null;
}

/** The upload limits, and which optional parts of the API (from its OpenAPI document) exist. */
export async function detectService() {
  try {
    const response = await fetch("limits.json");
    session.limits = response.ok ? await response.json() : null;
    if (session.limits && session.cx) {
      session.cx.directLimit = session.limits.direct_upload_max_bytes;
    }
  } catch { /* the client's defaults, and a 413 teaches it the real limit */ }
  try {
    const response = await fetch(`${apiBase}/openapi.json`);
    const paths = response.ok ? (await response.json()).paths || {} : {};
    session.features = {
      webhooks: "/v1/webhooks" in paths,
      previews: "/v1/files/{file_id}/preview" in paths,
    };
  } catch {
    session.features = { webhooks: false, previews: false };
  }
}
