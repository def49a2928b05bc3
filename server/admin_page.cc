#include "server/internal/admin_page.h"

#include <string_view>

namespace siteledger::server {

namespace {

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Shared by the page and the error page: readable at 200% zoom, contrast
// above 4.5:1 (text #1d2125 on white, links and buttons #0c66e4), a visible
// focus ring.
constexpr std::string_view kStyle = R"css(
:root { color-scheme: light; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: #1d2125; background: #fff; margin: 0; padding: 24px; max-width: 760px; }
h1 { font-size: 1.5rem; margin: 0 0 16px; }
h2 { font-size: 1.15rem; margin: 24px 0 8px; }
section { border-top: 1px solid #dcdfe4; padding-top: 8px; }
.region { font-size: 1.25rem; font-weight: 600; }
button { font: inherit; padding: 8px 16px; border-radius: 4px; cursor: pointer;
  border: 1px solid #0c66e4; background: #0c66e4; color: #fff; }
button.secondary { background: #fff; color: #0c66e4; }
button:focus-visible, a:focus-visible { outline: 3px solid #1d2125; outline-offset: 2px; }
button[disabled] { background: #dcdfe4; border-color: #dcdfe4; color: #44546f; cursor: default; }
.error { border: 2px solid #ae2e24; color: #ae2e24; padding: 8px 12px; border-radius: 4px; }
.note { color: #44546f; }
progress { width: 100%; height: 20px; }
dialog { max-width: 520px; border: 1px solid #44546f; border-radius: 6px; }
dialog::backdrop { background: rgba(9, 30, 66, .5); }
table { border-collapse: collapse; }
td, th { text-align: left; padding: 2px 16px 2px 0; }
ul { padding-left: 20px; }
)css";

constexpr std::string_view kBody = R"html(
<main>
<h1>Data residency and privacy</h1>
<div id="error" class="error" role="alert" hidden></div>

<section aria-labelledby="where-h">
<h2 id="where-h">Where your data lives</h2>
<p>Your site's data is stored in <span id="region" class="region">…</span>.</p>
<p id="state" class="note" aria-live="polite"></p>
<div id="migrate-box" hidden>
  <p>You can move your site's data to another region. Copying runs in the
  background while the site keeps working; at the end the site is
  unavailable for a few seconds while the last changes are copied.</p>
  <p><label for="target">Move to</label>
  <select id="target"></select>
  <button id="start" type="button">Start migration</button></p>
</div>
<div id="progress-box" hidden>
  <label for="progress" id="progress-label">Copying your data</label>
  <progress id="progress" max="100" value="0"></progress>
  <p id="progress-text" aria-live="polite"></p>
</div>
<p id="result" role="status"></p>
<div id="rollback-box" hidden>
  <p>You can move the data back to <span id="rollback-region"></span> until
  <time id="deadline"></time> (<span id="countdown"></span> left).</p>
  <button id="rollback" type="button" class="secondary">Roll back</button>
</div>
<p id="rollback-gone" class="note" hidden>The move can no longer be rolled
back: the 7 days after it have passed and the copy in the region it left has
been deleted.</p>
</section>

<section aria-labelledby="stored-h">
<h2 id="stored-h">What is stored</h2>
<ul>
<li>Your landing-page layouts, themes, navigation, promoted search results
and announcements.</li>
<li>Featured images and texts of pages, feedback, and the media you upload
(images, logos, favicons, app icons).</li>
<li>The Atlassian account ids of users who used the app: no names, no
e-mail addresses.</li>
</ul>
<h2>What is never stored</h2>
<ul>
<li>Credentials or passwords.</li>
<li>The content of your Confluence pages or Jira issues.</li>
<li>Personal data beyond account ids. IP addresses appear only in the access
log, which keeps them for 14 days.</li>
</ul>
</section>

<section aria-labelledby="retention-h">
<h2 id="retention-h">How long it is kept</h2>
<ul>
<li>IP addresses: 14 days. Access-log entries from before
<time id="ip-cutoff"></time> have been deleted.</li>
<li>Everything else: until 30 days after you uninstall the app. If you
uninstalled it today, the data would be deleted on
<time id="delete-date"></time>.</li>
</ul>
</section>

<section aria-labelledby="usage-h">
<h2 id="usage-h">Your usage</h2>
<table><tbody>
<tr><th scope="row">Sites</th><td id="u-sites">…</td></tr>
<tr><th scope="row">Themes</th><td id="u-themes">…</td></tr>
<tr><th scope="row">Custom domains</th><td id="u-domains">…</td></tr>
<tr><th scope="row">Spaces</th><td id="u-spaces">…</td></tr>
</tbody></table>
</section>
</main>

<dialog id="confirm-migrate" aria-labelledby="cm-h">
<h2 id="cm-h">Move your data to <span id="cm-target"></span>?</h2>
<p>Your data is copied in the background while your site keeps working.
At the end your site is <strong>unavailable for a few seconds</strong> (up
to about 10) while the last changes are copied. You can move it back within 7
days.</p>
<p>Tell your users first: publish an announcement banner on your sites.</p>
<p><button id="announce" type="button" class="secondary">Publish an
announcement</button> <span id="announce-result" role="status"></span></p>
<p><button id="cm-yes" type="button">Start migration</button>
<button id="cm-no" type="button" class="secondary">Cancel</button></p>
</dialog>

<dialog id="confirm-rollback" aria-labelledby="cr-h">
<h2 id="cr-h">Move your data back to <span id="cr-target"></span>?</h2>
<p><strong>Changes made since the move will be lost</strong>: the data goes
back to what it was when it left <span id="cr-target2"></span>.</p>
<p><button id="cr-yes" type="button">Roll back</button>
<button id="cr-no" type="button" class="secondary">Cancel</button></p>
</dialog>
)html";

constexpr std::string_view kScript = R"js(
"use strict";
const meta = (n) => document.querySelector('meta[name="' + n + '"]').content;
let token = meta("sl-token");
let tokenExpires = Date.parse(meta("sl-token-expires"));
const skew = Date.parse(meta("sl-now")) - Date.now();
const here = meta("sl-region");
const peers = meta("sl-peers").split(",").filter(Boolean);
let base = "";  // this server until the data lives elsewhere
let residency = null;
let polling = null;
let movingFrom = null;
const $ = (id) => document.getElementById(id);
const names = { us: "the United States (US)", eu: "the European Union (EU)" };
const nameOf = (r) => names[r] || r.toUpperCase();
const day = 86400000;
const dateOf = (ms) => new Date(ms).toISOString().slice(0, 10);

function showError(text) {
  const e = $("error");
  e.textContent = text;
  e.hidden = !text;
}

// A readable message from an answer that is not 2xx: problem+json's title
// and detail, never the raw body.
async function problemText(r) {
  let p = null;
  try { p = await r.json(); } catch (e) { p = null; }
  const what = p && (p.detail || p.title);
  if (r.status === 401) return "Your session has expired or is not valid. Reload this page from the app's administration page in Confluence." + (what ? " (" + what + ")" : "");
  if (r.status === 403) return "You are not allowed to do this" + (what ? ": " + what : ".");
  if (r.status === 503) return "The service is busy or changing region; try again in a moment.";
  return (what || "The request failed") + " (status " + r.status + ")";
}

async function api(method, path, body, at) {
  const headers = { "Authorization": "JWT " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch((at === undefined ? base : at) + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", redirect: "manual" });
  } catch (e) {
    throw new Error("The server could not be reached. Check your connection and try again.");
  }
  if (!r.ok) throw new Error(await problemText(r));
  return r.status === 204 ? null : r.json();
}

async function refreshToken() {
  try {
    const t = await api("POST", "/api/v1/residency/page-token");
    token = t.token;
    tokenExpires = Date.parse(t.expiresAt);
  } catch (e) {
    showError(e.message);
  }
  scheduleRefresh();
}
function scheduleRefresh() {
  // Two minutes before it expires (server time), and at least 5 s from now.
  const wait = Math.max(5000, tokenExpires - (Date.now() + skew) - 120000);
  setTimeout(refreshToken, wait);
}

function countdown(deadline) {
  const left = deadline - (Date.now() + skew);
  if (left <= 0) return "no time";
  const d = Math.floor(left / day), h = Math.floor(left % day / 3600000),
        m = Math.floor(left % 3600000 / 60000), s = Math.floor(left % 60000 / 1000);
  return (d ? d + " days " : "") + h + " h " + m + " min " + s + " s";
}

let deadlineTimer = null;
function render() {
  const r = residency;
  $("region").textContent = nameOf(r.region);
  $("region").dataset.region = r.region;
  const busy = r.state !== "home";
  $("state").textContent = r.state === "copying" ? "A migration is under way."
    : r.state === "cutover" ? "Switching over: your site is unavailable for a few seconds."
    : r.state === "rolling-back" ? "Moving back: your site is unavailable until it is done."
    : "";
  const targets = peers.filter((p) => p !== r.region);
  const sel = $("target");
  if (sel.options.length !== targets.length) {
    sel.textContent = "";
    for (const p of targets) {
      const o = document.createElement("option");
      o.value = p;
      o.textContent = nameOf(p);
      sel.appendChild(o);
    }
  }
  const deadline = r.rollbackDeadline ? Date.parse(r.rollbackDeadline) : null;
  $("migrate-box").hidden = busy || targets.length === 0 || deadline !== null || polling !== null;
  $("rollback-box").hidden = busy || deadline === null || polling !== null;
  if (deadline !== null) {
    $("deadline").dateTime = r.rollbackDeadline;
    $("deadline").textContent = new Date(deadline).toUTCString();
    $("rollback-region").textContent = nameOf(r.movedFrom || peers.find((p) => p !== r.region) || "");
    if (!deadlineTimer) {
      deadlineTimer = setInterval(() => {
        $("countdown").textContent = countdown(deadline);
        if (deadline <= Date.now() + skew) { clearInterval(deadlineTimer); deadlineTimer = null; load(); }
      }, 1000);
    }
    $("countdown").textContent = countdown(deadline);
  }
  $("rollback-gone").hidden = !(r.movedFrom && deadline === null && !busy);
  const p = r.progress;
  if (p) {
    $("progress-box").hidden = false;
    const total = p.eventsTotal || 0, done = p.eventsCopied || 0;
    $("progress").value = total ? Math.min(100, Math.floor(100 * done / total)) : 0;
    $("progress-text").textContent = done + " of " + total + " events and " +
      (p.mediaCopied || 0) + " of " + (p.mediaTotal || 0) + " media files copied" +
      (p.rate ? ", " + p.rate + " events/s" : "") +
      (p.etaSeconds !== null && p.etaSeconds !== undefined ? ", about " + p.etaSeconds + " s left" : "");
  }
}

async function loadResidency() {
  try {
    residency = await api("GET", "/api/v1/residency");
  } catch (e) {
    if (base === "") throw e;
    // The region we talked to no longer knows the site (after a rollback):
    // ask this server, which tells where the data lives.
    base = "";
    residency = await api("GET", "/api/v1/residency");
  }
  const home = residency.homeBaseUrl || "";
  base = home && new URL(home).origin !== location.origin ? home.replace(/\/$/, "") : "";
  if (base !== "" && residency.rollbackDeadline === null && residency.state === "home") {
    residency = await api("GET", "/api/v1/residency");
  }
}

async function load() {
  try {
    await loadResidency();
    render();
    const u = await api("GET", "/api/v1/usage");
    $("u-sites").textContent = u.sites;
    $("u-themes").textContent = u.themes;
    $("u-domains").textContent = u.customDomains;
    $("u-spaces").textContent = u.spaces;
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function poll(target, what) {
  $("progress-box").hidden = false;
  $("progress-label").textContent = what;
  $("progress").value = 0;
  $("result").textContent = "";
  polling = setInterval(async () => {
    try {
      await loadResidency();
    } catch (e) {
      showError(e.message);
      return;
    }
    showError(residency.lastError ? "The last attempt failed and is retried: " + residency.lastError : "");
    render();
    if (residency.region === target && residency.state === "home") {
      clearInterval(polling);
      polling = null;
      $("progress").value = 100;
      $("progress-box").hidden = true;
      $("result").textContent = "Done: your data now lives in " + nameOf(target) + ".";
      render();
      load();
    }
  }, 500);
  render();
}

$("start").addEventListener("click", () => {
  $("cm-target").textContent = nameOf($("target").value);
  $("announce-result").textContent = "";
  $("confirm-migrate").showModal();
  $("cm-no").focus();
});
$("cm-no").addEventListener("click", () => $("confirm-migrate").close());
$("announce").addEventListener("click", async () => {
  const when = new Date(Date.now() + skew).toISOString().replace(/\.\d+Z$/, "Z");
  try {
    await api("POST", "/api/v1/announcements", {
      text: "Scheduled maintenance: this site moves to a new data region today and will be unavailable for a few seconds.",
      severity: "info", startsAt: when, audience: { all: true } });
    $("announce-result").textContent = "Announcement published.";
  } catch (e) {
    $("announce-result").textContent = e.message;
  }
});
$("cm-yes").addEventListener("click", async () => {
  const target = $("target").value;
  $("confirm-migrate").close();
  movingFrom = residency.region;
  try {
    await api("POST", "/api/v1/residency/migration", { target });
    poll(target, "Copying your data to " + nameOf(target));
  } catch (e) {
    showError(e.message);
  }
});
$("rollback").addEventListener("click", () => {
  const back = $("rollback-region").textContent;
  $("cr-target").textContent = back;
  $("cr-target2").textContent = back;
  $("confirm-rollback").showModal();
  $("cr-no").focus();
});
$("cr-no").addEventListener("click", () => $("confirm-rollback").close());
$("cr-yes").addEventListener("click", async () => {
  $("confirm-rollback").close();
  const target = residency.movedFrom || movingFrom || peers.find((p) => p !== residency.region);
  try {
    await api("POST", "/api/v1/residency/rollback");
    poll(target, "Moving your data back to " + nameOf(target));
  } catch (e) {
    showError(e.message);
  }
});

$("ip-cutoff").textContent = dateOf(Date.now() + skew - 14 * day);
$("delete-date").textContent = dateOf(Date.now() + skew + 30 * day);
scheduleRefresh();
load();
)js";

}  // namespace

std::string OriginOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const size_t path = url.find('/', scheme + 3);
  return url.substr(0, path);
}

std::vector<std::string> PeerOrigins(const Config& config) {
  std::vector<std::string> out;
  for (const auto& [region, url] : config.peers) {
    if (std::string origin = OriginOf(url); !origin.empty()) {
      out.push_back(std::move(origin));
    }
  }
  return out;
}

HttpResponse AdminPageResponse(const AdminPageContext& c) {
  std::string html;
  html.reserve(kStyle.size() + kBody.size() + kScript.size() + 2048);
  html +=
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html +=
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n";
  html += "<title>Data residency and privacy</title>\n";
  // No favicon request to answer with a 404.
  html += "<link rel=\"icon\" href=\"data:,\">\n";
  html += "<meta name=\"sl-token\" content=\"" + Escape(c.token) + "\">\n";
  html += "<meta name=\"sl-token-expires\" content=\"" + Escape(c.expires_at) +
          "\">\n";
  html += "<meta name=\"sl-now\" content=\"" + Escape(c.now) + "\">\n";
  html += "<meta name=\"sl-region\" content=\"" + Escape(c.region) + "\">\n";
  std::vector<std::string> regions = c.peers;
  regions.insert(regions.begin(), c.region);
  html += "<meta name=\"sl-peers\" content=\"" + Escape(Join(regions, ",")) +
          "\">\n";
  html += "<style nonce=\"" + c.nonce + "\">" + std::string(kStyle) +
          "</style>\n</head>\n<body>";
  html += kBody;
  html += "<script nonce=\"" + c.nonce + "\">" + std::string(kScript) +
          "</script>\n</body>\n</html>\n";

  HttpResponse r;
  r.status = 200;
  r.Set("Content-Type", "text/html; charset=utf-8");
  r.Set("Cache-Control", "no-store");
  // The URL holds a token: never sent on as a Referer.
  r.Set("Referrer-Policy", "no-referrer");
  std::string connect = "'self'";
  for (const std::string& o : c.peer_origins) connect += " " + o;
  r.Set("Content-Security-Policy",
        "default-src 'none'; script-src 'nonce-" + c.nonce +
            "'; style-src 'nonce-" + c.nonce + "'; connect-src " + connect +
            "; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'self' https://*.atlassian.net "
            "https://*.jira.com");
  r.body = std::move(html);
  return r;
}

HttpResponse AdminPageError(int status, const std::string& message) {
  std::string html =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<title>Data residency: cannot open</title>\n"
      "<link rel=\"icon\" href=\"data:,\">\n"
      "<style>" +
      std::string(kStyle) +
      "</style>\n</head>\n<body>\n<main>\n<h1>This page cannot be "
      "opened</h1>\n<p class=\"error\" role=\"alert\" id=\"page-error\">" +
      Escape(message) +
      "</p>\n<p>Open it again from the app's administration page in "
      "Confluence (Settings, then Manage apps). If it keeps failing, "
      "reinstall the app or contact its vendor.</p>\n</main>\n</body>\n"
      "</html>\n";
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", "text/html; charset=utf-8");
  r.Set("Cache-Control", "no-store");
  r.Set("Referrer-Policy", "no-referrer");
  r.Set("Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self' https://*.atlassian.net "
        "https://*.jira.com");
  r.body = std::move(html);
  return r;
}

}  // namespace siteledger::server
