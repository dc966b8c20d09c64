// Fetch wrapper: JSON (or a FormData form) in, JSON out, CSRF double-submit header, readable errors.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)classrec_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorMessage(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return `request failed (${status})`;
}

export async function api(method, path, body) {
  const init = { method, headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin" };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser sets the Content-Type with its boundary
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, data));
  return data;
}

// Upload with progress (fetch cannot report upload progress; XHR can). `key` names the chosen
// file, so sending it again (after a reload, from a second tab) finds the lecture made from it.
export function uploadFile(file, title, key, { onProgress, onUploaded }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ filename: file.name, title, key });
    xhr.open("POST", `/api/lectures/upload?${query}`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.upload.onload = () => onUploaded();
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, errorMessage(xhr.status, data)));
    };
    xhr.onerror = () => reject(new ApiError(0, "upload failed: connection lost"));
    xhr.send(file);
  });
}

// The key of a chosen file: SHA-256 (hex) of its name, size and modification time, the same
// after a reload. Outside a secure context (no crypto.subtle) a 64-bit FNV-1a hash stands in.
export async function fileKey(file) {
  const text = `${file.name}|${file.size}|${file.lastModified}`;
  if (globalThis.crypto && crypto.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  }
  return hash.toString(16).padStart(16, "0");
}
