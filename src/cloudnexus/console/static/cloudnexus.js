// cloudnexus.js: the CloudNexus browser client. One ES module, no dependencies, no build step.
// The contract is CLIENTS.md ("Browser client"); the routes are API.md's.

/**
 * @typedef {Object} ClientOptions
 * @property {string} [url] The service's base URL; "" (default) is the page's own origin.
 * @property {string} [key] An API key (`cnx_...`).
 * @property {string | (() => string | Promise<string>)} [token] A delegated token, or a function
 *   giving a fresh one.
 * @property {number} [directLimit] Largest file sent in one request (the server's
 *   DIRECT_UPLOAD_MAX_BYTES; learnt from a 413 when lower).
 * @property {number} [concurrency] Parts sent at once in a multipart upload (4).
 * @property {number} [retries] Tries after the first for 429, 503 and network errors (5).
 * @property {Storage | null} [resumeStore] Where resume state is kept (localStorage).
 *
 * @typedef {{bytes: number, files: number}} Usage
 * @typedef {{id: string, name: string, created_at: string, usage: Usage,
 *   quota: {max_bytes: number | null, max_files: number | null}}} Workspace
 * @typedef {{name: string, public: boolean, max_file_size: number | null,
 *   allowed_content_types: string[] | null, created_at: string, usage?: Usage}} Bucket
 * @typedef {{id: string, bucket: string, path: string, size: number, content_type: string,
 *   sha256: string | null, etag: string, metadata: Object, tags: string[], status: string,
 *   created_at: string, updated_at: string, public_url: string | null}} CnxFile
 * @typedef {{items: CnxFile[], next_cursor: string | null}} FilePage
 * @typedef {{prefix?: string, q?: string, tag?: string, content_type?: string,
 *   sort?: "path" | "created_at" | "size", order?: "asc" | "desc", limit?: number,
 *   cursor?: string, created_by?: string}} FileQuery
 * @typedef {{id: string, url: string, expires_at: string, max_downloads: number | null,
 *   downloads: number}} Link
 * @typedef {{id: string, name: string, scopes: string[], created_at: string,
 *   expires_at: string | null, last_used_at: string | null, revoked_at: string | null,
 *   key?: string}} ApiKey
 * @typedef {{part_number: number, url: string}} PartUrl
 * @typedef {{part_number: number, etag: string, size: number}} ReceivedPart
 * @typedef {{id: string, file_id: string, method: "PUT" | "MULTIPART", status: string,
 *   size: number, url?: string, headers?: Object<string, string>, part_size?: number,
 *   parts?: PartUrl[], parts_received?: ReceivedPart[], parts_truncated?: boolean,
 *   next_part_number_marker?: number | null}} Upload
 * @typedef {Object} UploadOptions
 * @property {string} bucket
 * @property {string} [path] Default: the file's name.
 * @property {string} [contentType] Default: the file's type, else application/octet-stream.
 * @property {Object} [metadata]
 * @property {string[]} [tags]
 * @property {boolean} [overwrite]
 * @property {(sent: number, total: number) => void} [onProgress]
 * @property {AbortSignal} [signal] Aborting also aborts the upload on the server.
 * @property {boolean} [resume] Resume an interrupted multipart upload of the same file (true).
 * @property {boolean} [multipart] Send in parts even when small.
 * @property {(upload: Upload) => void} [onStart] Called once the server has the upload.
 * @typedef {{file: CnxFile, way: "direct" | "put" | "multipart", resumed: boolean}} UploadResult
 */

const MiB = 1024 * 1024;
const DEFAULT_DIRECT_LIMIT = 4 * MiB; // the server's default DIRECT_UPLOAD_MAX_BYTES
const PARALLEL_PARTS_FROM = 32 * MiB; // from here on, parts even below the server's threshold
const HASHED_UP_TO = 64 * MiB; // a single PUT is hashed in memory (SHA-256) up to this size
const RESUME_PREFIX = "cloudnexus.upload.";
const DIRECT_LIMIT_SAID = /Direct uploads take at most (\d+) bytes/; // the server's 413 message
const RETRIED = new Set([429, 502, 503, 504]);

/** An error answered by the service, with the contract's code and the request id. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, request_id?: string, details?: unknown[]}} body
   * @param {string | null} [requestId]
   */
  constructor(status, body, requestId = null) {
    super(body.message || `HTTP ${status}`);
    this.name = new.target.name;
    this.status = status;
    this.code = body.code || "unknown";
    this.requestId = body.request_id || requestId;
    this.details = body.details || [];
  }
}
export class BadRequest extends ApiError {}
export class Unauthorized extends ApiError {}
export class Forbidden extends ApiError {}
export class QuotaExceeded extends Forbidden {}
export class NotFound extends ApiError {}
export class Conflict extends ApiError {}
export class PreconditionFailed extends ApiError {}
export class PayloadTooLarge extends ApiError {}
export class UnsupportedMediaType extends ApiError {}
export class ValidationError extends ApiError {}
export class UploadMismatch extends ValidationError {}
export class ServiceUnavailable extends ApiError {}
/** A transfer that failed outside the API: a network error, or storage refusing a part. */
export class TransferError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "TransferError";
    this.status = status;
  }
}

const BY_CODE = {
  bad_request: BadRequest, unauthorized: Unauthorized, forbidden: Forbidden,
  quota_exceeded: QuotaExceeded, not_found: NotFound, conflict: Conflict,
  precondition_failed: PreconditionFailed, payload_too_large: PayloadTooLarge,
  unsupported_media_type: UnsupportedMediaType, validation_error: ValidationError,
  upload_mismatch: UploadMismatch, service_unavailable: ServiceUnavailable,
};

/**
 * The typed error for a failed response's status and body text.
 * @param {number} status
 * @param {string} text
 * @param {string | null} requestId
 * @returns {ApiError}
 */
export function errorFrom(status, text, requestId) {
  let body = {};
  try {
    body = JSON.parse(text).error || {};
  } catch {
    body = { message: text.slice(0, 200) || `HTTP ${status}` };
  }
  const Kind = BY_CODE[body.code] || ApiError;
  return new Kind(status, body, requestId);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); },
      { once: true });
  });
}

/** Exponential backoff with full jitter, or the server's Retry-After when it gave one. */
function delayFor(attempt, retryAfter) {
  const seconds = Number(retryAfter);
  if (retryAfter && Number.isFinite(seconds)) return Math.min(seconds, 30) * 1000;
  return Math.random() * Math.min(8000, 250 * 2 ** attempt);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.append(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function sha256Hex(blob) {
  if (!globalThis.crypto?.subtle || blob.size > HASHED_UP_TO) return null; // optional field
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * One request by XMLHttpRequest (which, unlike fetch, reports upload progress).
 * @returns {Promise<{status: number, text: string, header: (name: string) => string | null}>}
 */
function xhrSend(method, url, { headers = {}, body = null, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    const done = () => signal?.removeEventListener("abort", abort);
    xhr.onload = () => {
      done();
      resolve({ status: xhr.status, text: xhr.responseText,
        header: (name) => xhr.getResponseHeader(name) });
    };
    xhr.onerror = () => { done(); reject(new TransferError(`network error: ${method} ${url}`)); };
    xhr.onabort = () => { done(); reject(signal?.reason ?? new DOMException("Aborted", "AbortError")); };
    xhr.send(body);
  });
}

/** Bytes sent so far across the parts; a failed try takes back what it had sent. */
class Meter {
  constructor(total, onProgress, done = 0) {
    this.total = total;
    this.done = done;
    this.onProgress = onProgress;
  }

  /** A counter for one try: call it with the try's bytes sent so far. */
  track() {
    let counted = 0;
    const update = (loaded) => {
      this.done += loaded - counted;
      counted = loaded;
      this.onProgress?.(this.done, this.total);
    };
    update.undo = () => update(0);
    return update;
  }
}

/** Resume state of multipart uploads: upload ids only, never a key or a token. */
class ResumeStore {
  constructor(storage) {
    this.storage = storage;
  }

  static keyOf(base, bucket, path, file) {
    return RESUME_PREFIX + JSON.stringify([base, bucket, path, file.name, file.size,
      file.lastModified]);
  }

  load(key) {
    try {
      return JSON.parse(this.storage?.getItem(key) || "null");
    } catch {
      return null;
    }
  }

  save(key, uploadId) {
    try {
      this.storage?.setItem(key, JSON.stringify({ upload_id: uploadId, saved_at: Date.now() }));
    } catch { /* storage full or disabled: the upload goes on without resume */ }
  }

  clear(key) {
    try { this.storage?.removeItem(key); } catch { /* see save */ }
  }

  /** Every saved upload: its storage key, id, and the destination and file it was for. */
  entries() {
    const found = [];
    for (let index = 0; index < (this.storage?.length || 0); index += 1) {
      const key = this.storage.key(index);
      if (!key?.startsWith(RESUME_PREFIX)) continue;
      try {
        const [base, bucket, path, name, size] = JSON.parse(key.slice(RESUME_PREFIX.length));
        found.push({ key, base, bucket, path, name, size, uploadId: this.load(key)?.upload_id });
      } catch { /* not ours after all */ }
    }
    return found;
  }
}

export class CloudNexus {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    this.url = (options.url || "").replace(/\/+$/, "");
    this.key = options.key || null;
    this.token = options.token || null;
    this.directLimit = options.directLimit ?? DEFAULT_DIRECT_LIMIT;
    this.concurrency = options.concurrency || 4;
    this.retries = options.retries ?? 5;
    const store = options.resumeStore === undefined ? globalThis.localStorage : options.resumeStore;
    this.resumes = new ResumeStore(store || null);
  }

  async authorization() {
    const secret = this.key || (typeof this.token === "function" ? await this.token() : this.token);
    return secret ? { Authorization: `Bearer ${secret}` } : {};
  }

  /**
   * A request to the API: its JSON (null for 204); 429, 503 and network errors retried.
   * @param {string} method
   * @param {string} path
   * @param {{json?: unknown, params?: Object, headers?: Object, signal?: AbortSignal,
   *   idempotent?: boolean}} [options]
   */
  async request(method, path, { json, params, headers = {}, signal, idempotent } = {}) {
    const all = { ...(await this.authorization()), ...headers };
    if (json !== undefined) all["Content-Type"] = "application/json";
    if (idempotent) all["Idempotency-Key"] = randomId(); // the same on every retry
    const url = this.url + path + query(params);
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await fetch(url, { method, headers: all, signal,
          body: json === undefined ? undefined : JSON.stringify(json) });
      } catch (error) {
        if (signal?.aborted || attempt >= this.retries) throw signal?.reason ?? error;
        await sleep(delayFor(attempt), signal);
        continue;
      }
      if (RETRIED.has(response.status) && attempt < this.retries) {
        await sleep(delayFor(attempt, response.headers.get("Retry-After")), signal);
        continue;
      }
      if (!response.ok) {
        throw errorFrom(response.status, await response.text(),
          response.headers.get("X-Request-Id"));
      }
      return response.status === 204 ? null : response.json();
    }
  }

  // Workspace, keys, tokens

  /** @returns {Promise<Workspace>} */
  workspace() { return this.request("GET", "/v1/workspace"); }
  /** @returns {Promise<ApiKey[]>} */
  async listKeys() { return (await this.request("GET", "/v1/keys")).items; }
  /** @returns {Promise<ApiKey>} with `key`, shown this once */
  createKey(body) { return this.request("POST", "/v1/keys", { json: body, idempotent: true }); }
  revokeKey(id) { return this.request("DELETE", `/v1/keys/${encodeURIComponent(id)}`); }
  /** @returns {Promise<{token: string, expires_at: string}>} */
  createToken(body) { return this.request("POST", "/v1/tokens", { json: body, idempotent: true }); }
  async listWebhooks() { return (await this.request("GET", "/v1/webhooks")).items; }

  // Buckets

  /** @returns {Promise<Bucket[]>} */
  async listBuckets() { return (await this.request("GET", "/v1/buckets")).items; }
  /** @returns {Promise<Bucket>} */
  getBucket(name) { return this.request("GET", `/v1/buckets/${encodeURIComponent(name)}`); }
  /** @returns {Promise<Bucket>} */
  createBucket(body) { return this.request("POST", "/v1/buckets", { json: body, idempotent: true }); }
  updateBucket(name, body) {
    return this.request("PATCH", `/v1/buckets/${encodeURIComponent(name)}`, { json: body });
  }
  deleteBucket(name, { force = false } = {}) {
    return this.request("DELETE", `/v1/buckets/${encodeURIComponent(name)}`,
      { params: { force: force || undefined } });
  }

  // Files

  /** One page of a bucket's files. @returns {Promise<FilePage>} */
  listFiles(bucket, params = {}, { signal } = {}) {
    return this.request("GET", `/v1/buckets/${encodeURIComponent(bucket)}/files`,
      { params, signal });
  }

  /** Pages of a listing, following next_cursor. @returns {AsyncGenerator<FilePage>} */
  async *pages(bucket, params = {}) {
    let cursor = params.cursor;
    do {
      const page = await this.listFiles(bucket, { ...params, cursor });
      yield page;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** Every file of a listing, page after page. @returns {AsyncGenerator<CnxFile>} */
  async *files(bucket, params = {}) {
    for await (const page of this.pages(bucket, params)) yield* page.items;
  }

  /** @returns {Promise<CnxFile>} */
  getFile(id) { return this.request("GET", `/v1/files/${encodeURIComponent(id)}`); }
  /** @returns {Promise<CnxFile>} */
  updateFile(id, changes, { ifMatch } = {}) {
    return this.request("PATCH", `/v1/files/${encodeURIComponent(id)}`,
      { json: changes, headers: ifMatch ? { "If-Match": ifMatch } : {} });
  }
  copyFile(id, body) {
    return this.request("POST", `/v1/files/${encodeURIComponent(id)}/copy`,
      { json: body, idempotent: true });
  }
  deleteFile(id) { return this.request("DELETE", `/v1/files/${encodeURIComponent(id)}`); }
  /** @returns {Promise<{deleted: number}>} */
  deleteFiles(bucket, { ids, prefix }) {
    return this.request("POST", `/v1/buckets/${encodeURIComponent(bucket)}/files:delete`,
      { json: ids ? { ids } : { prefix } });
  }

  /**
   * The presigned URL of a file's bytes (what /content redirects to), for an <a> or <img>,
   * which cannot send the Authorization header themselves.
   * @param {string} id
   * @param {{download?: boolean, preview?: Object}} [options] `preview` asks /preview instead.
   */
  async contentUrl(id, { download = false, preview } = {}) {
    const route = preview ? "preview" : "content";
    const params = preview || { download: download || undefined };
    const stop = new AbortController();
    const response = await fetch(`${this.url}/v1/files/${encodeURIComponent(id)}/${route}` +
      query(params), { headers: await this.authorization(), signal: stop.signal });
    if (!response.ok) {
      throw errorFrom(response.status, await response.text(), response.headers.get("X-Request-Id"));
    }
    stop.abort(); // only the address was wanted, not the bytes
    return response.url;
  }

  // Share links

  /** @returns {Promise<Link>} */
  createLink(fileId, { expires_in, max_downloads } = {}) {
    return this.request("POST", `/v1/files/${encodeURIComponent(fileId)}/links`,
      { json: { expires_in, max_downloads }, idempotent: true });
  }
  async listLinks(fileId) {
    return (await this.request("GET", `/v1/files/${encodeURIComponent(fileId)}/links`)).items;
  }
  deleteLink(id) { return this.request("DELETE", `/v1/links/${encodeURIComponent(id)}`); }

  // Uploads

  /**
   * Upload a File or Blob the way its size calls for: direct, one presigned PUT, or parts.
   * @param {Blob & {name?: string, lastModified?: number}} file
   * @param {UploadOptions} options
   * @returns {Promise<UploadResult>}
   */
  async upload(file, options) {
    const { bucket, signal } = options;
    const path = options.path || file.name;
    const common = { path, content_type: options.contentType || file.type ||
      "application/octet-stream", metadata: options.metadata || {}, tags: options.tags || [],
      overwrite: Boolean(options.overwrite) };
    const meter = new Meter(file.size, options.onProgress);
    signal?.throwIfAborted();
    if (file.size <= this.directLimit && !options.multipart) {
      try {
        return { file: await this.direct(bucket, file, common, meter, signal), way: "direct",
          resumed: false };
      } catch (error) {
        // The server's direct limit is lower than ours: learn it and go presigned. (A 413 of
        // the bucket's or the token's own limit would be the same the other way.)
        const limit = error instanceof PayloadTooLarge && DIRECT_LIMIT_SAID.exec(error.message);
        if (!limit) throw error;
        this.directLimit = Math.min(Number(limit[1]), file.size - 1);
        meter.done = 0;
      }
    }
    return this.presigned(bucket, file, common, meter, options);
  }

  async direct(bucket, file, common, meter, signal) {
    const form = new FormData();
    form.append("path", common.path);
    form.append("metadata", JSON.stringify(common.metadata));
    for (const tag of common.tags) form.append("tags", tag);
    form.append("overwrite", String(common.overwrite));
    form.append("file", new File([file], common.path.split("/").pop(),
      { type: common.content_type }));
    const url = `${this.url}/v1/buckets/${encodeURIComponent(bucket)}/files`;
    const headers = { ...(await this.authorization()), "Idempotency-Key": randomId() };
    const response = await this.withRetries(signal, () => {
      const progress = meter.track();
      return xhrSend("POST", url, { headers, body: form, onProgress: progress, signal })
        .catch((error) => { progress.undo(); throw error; });
    });
    if (response.status >= 300) {
      throw errorFrom(response.status, response.text, response.header("X-Request-Id"));
    }
    meter.onProgress?.(file.size, file.size);
    return JSON.parse(response.text);
  }

  async presigned(bucket, file, common, meter, options) {
    const { signal } = options;
    const resumeKey = ResumeStore.keyOf(this.url || location.origin, bucket, common.path, file);
    const saved = options.resume === false ? null : this.resumes.load(resumeKey);
    let upload = saved ? await this.resumable(saved.upload_id, file.size) : null;
    const resumed = upload !== null;
    if (!upload) {
      this.resumes.clear(resumeKey);
      const multipart = Boolean(options.multipart) || file.size >= PARALLEL_PARTS_FROM;
      const sha256 = multipart ? null : await sha256Hex(file);
      // Not cancelled half-way (an upload made but never known could not be aborted): an
      // abort meanwhile is handled just below, with the upload's id.
      upload = await this.request("POST", `/v1/buckets/${encodeURIComponent(bucket)}/uploads`,
        { json: { ...common, size: file.size, sha256: sha256 || undefined, multipart },
          idempotent: true });
    }
    options.onStart?.(upload);
    let aborting = null; // the server-side abort, awaited before upload() rejects
    const abortOnServer = () => {
      this.resumes.clear(resumeKey);
      aborting = this.request("DELETE", `/v1/uploads/${upload.id}`).catch(() => {});
    };
    signal?.addEventListener("abort", abortOnServer, { once: true });
    try {
      if (signal?.aborted) {
        abortOnServer();
        throw signal.reason;
      }
      let done;
      if (upload.method === "PUT") {
        await this.sendPut(upload, file, meter, signal);
        done = await this.complete(upload.id, undefined, signal);
      } else {
        this.resumes.save(resumeKey, upload.id);
        const parts = await this.sendParts(upload, file, meter, signal);
        done = await this.complete(upload.id, parts, signal);
        this.resumes.clear(resumeKey);
      }
      return { file: done, way: upload.method === "PUT" ? "put" : "multipart", resumed };
    } catch (error) {
      await aborting;
      throw error;
    } finally {
      signal?.removeEventListener("abort", abortOnServer);
    }
  }

  /**
   * Multipart uploads to this service left unfinished by a reload or a closed tab: uploading
   * the same file to the same place resumes one; discardUpload() gives its quota back.
   * @returns {{key: string, bucket: string, path: string, name: string, size: number,
   *   uploadId: string}[]}
   */
  interruptedUploads() {
    const base = this.url || location.origin;
    return this.resumes.entries().filter((entry) => entry.base === base && entry.uploadId);
  }

  /** Abort an interrupted upload on the server and forget it here. */
  async discardUpload(entry) {
    this.resumes.clear(entry.key);
    try {
      await this.request("DELETE", `/v1/uploads/${encodeURIComponent(entry.uploadId)}`);
    } catch (error) {
      if (!(error instanceof NotFound) && !(error instanceof Conflict)) throw error; // gone
    }
  }

  /** The saved upload when it can still be continued, else null. */
  async resumable(uploadId, size) {
    try {
      const upload = await this.request("GET", `/v1/uploads/${encodeURIComponent(uploadId)}`);
      const usable = upload.status === "pending" && upload.method === "MULTIPART" &&
        upload.size === size;
      return usable ? upload : null;
    } catch (error) {
      if (error instanceof NotFound || error instanceof Forbidden) return null;
      throw error;
    }
  }

  complete(uploadId, parts, signal) {
    return this.request("POST", `/v1/uploads/${encodeURIComponent(uploadId)}/complete`,
      { json: parts ? { parts } : {}, signal });
  }

  /** `send` again after a network error or a 429/5xx answer, with backoff. */
  async withRetries(signal, send) {
    for (let attempt = 0; ; attempt += 1) {
      let response = null;
      try {
        response = await send();
      } catch (error) {
        if (signal?.aborted || !(error instanceof TransferError) || attempt >= this.retries) {
          throw error;
        }
      }
      const retry = response === null || (response.status >= 500 || response.status === 429);
      if (!retry || attempt >= this.retries) return response;
      await sleep(delayFor(attempt, response?.header("Retry-After")), signal);
    }
  }

  async sendPut(upload, file, meter, signal) {
    const response = await this.withRetries(signal, () => {
      const progress = meter.track();
      return xhrSend("PUT", upload.url, { headers: upload.headers || {}, body: file,
        onProgress: progress, signal }).then((answer) => {
        if (answer.status >= 300) progress.undo();
        return answer;
      }, (error) => { progress.undo(); throw error; });
    });
    // 412: a retried PUT whose first answer was lost; the bytes are there, complete checks them.
    if (response.status >= 300 && response.status !== 412) {
      throw errorFrom(response.status, response.text, response.header("X-Request-Id"));
    }
  }

  /** Every part not yet received, `concurrency` at a time, each retried on its own. */
  async sendParts(upload, file, meter, signal) {
    const size = upload.part_size;
    const count = Math.max(1, Math.ceil(file.size / size));
    const etags = new Map((upload.parts_received || []).map((p) => [p.part_number, p.etag]));
    for (const part of upload.parts_received || []) meter.done += part.size;
    meter.onProgress?.(meter.done, meter.total);
    const urls = new Map((upload.parts || []).map((p) => [p.part_number, p.url]));
    const todo = [];
    for (let number = 1; number <= count; number += 1) if (!etags.has(number)) todo.push(number);
    const inner = new AbortController(); // the first part that fails for good stops the others
    const stop = () => inner.abort(signal.reason);
    signal?.addEventListener("abort", stop, { once: true });
    const freshUrl = async (number) => {
      const again = await this.request("GET", `/v1/uploads/${upload.id}`,
        { params: { part_number_marker: number - 1 }, signal: inner.signal });
      for (const part of again.parts || []) urls.set(part.part_number, part.url);
      return urls.get(number);
    };
    const sendPart = async (number) => {
      const blob = file.slice((number - 1) * size, Math.min(file.size, number * size));
      let url = urls.get(number) || await freshUrl(number);
      for (let attempt = 0; ; attempt += 1) {
        const progress = meter.track();
        let answer = null;
        try {
          answer = await xhrSend("PUT", url, { body: blob, onProgress: progress,
            signal: inner.signal });
        } catch (error) {
          progress.undo();
          if (inner.signal.aborted || attempt >= this.retries) throw error;
        }
        if (answer && answer.status < 300) {
          const etag = answer.header("ETag");
          if (!etag) throw new TransferError("storage answered no ETag (is it exposed by CORS?)");
          etags.set(number, etag);
          return;
        }
        if (answer) {
          progress.undo();
          const transient = answer.status >= 500 || answer.status === 429 ||
            answer.status === 403; // 403: the URL expired; a fresh one is signed below
          if (!transient || attempt >= this.retries) {
            throw errorFrom(answer.status, answer.text, answer.header("X-Request-Id"));
          }
          if (answer.status === 403) url = await freshUrl(number);
        }
        await sleep(delayFor(attempt, answer?.header("Retry-After")), inner.signal);
      }
    };
    const worker = async () => {
      while (todo.length) await sendPart(todo.shift());
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.concurrency, todo.length) }, () =>
        worker().catch((error) => { inner.abort(error); throw error; })));
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    return [...etags.entries()].sort((a, b) => a[0] - b[0])
      .map(([part_number, etag]) => ({ part_number, etag }));
  }
}

/** Sizes for people: 1.5 MB, 20 MiB shown as 21 MB. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
}
