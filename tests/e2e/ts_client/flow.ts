// Drives a full flow through a TypeScript client generated from the
// server's own /openapi.json (openapi-typescript types, openapi-fetch
// calls), for the e2e test openapi_client_test.cc. tsc --noEmit checks the
// calls and the fields read against the generated types; the checks below
// make sure at run time that the answers hold what the types promise.
//
// Usage: node flow.js <base URL> <clientKey> <sharedSecret> <openapi.json>
// Exits 0 and prints "ok" when every step answered as documented.

import createClient, { type Middleware } from "openapi-fetch";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import type { components, paths } from "./schema";

const require_ = createRequire(__filename);
// atlassian-jwt ships no types.
const jwt = require_("atlassian-jwt") as {
  fromMethodAndUrl(method: string, url: string): unknown;
  createQueryStringHash(req: unknown, checkBody: boolean, base: string): string;
  encodeSymmetric(claims: object, secret: string): string;
};

type Schemas = components["schemas"];

const [baseUrl, clientKey, secret, docPath] = process.argv.slice(2);
if (!docPath) {
  console.error("usage: node flow.js <base URL> <clientKey> <sharedSecret> " +
                "<openapi.json>");
  process.exit(2);
}

// Signs every request as the tenant: HS256 with a qsh of this very request.
const signer: Middleware = {
  async onRequest({ request }) {
    const url = new URL(request.url);
    const req = jwt.fromMethodAndUrl(request.method, url.pathname + url.search);
    const now = Math.floor(Date.now() / 1000);
    const token = jwt.encodeSymmetric(
      {
        iss: clientKey,
        iat: now,
        exp: now + 180,
        sub: "5b10ac8d82e05b22cc7d4ef5",
        qsh: jwt.createQueryStringHash(req, false, baseUrl),
      },
      secret,
    );
    request.headers.set("Authorization", "JWT " + token);
    return request;
  },
};

const client = createClient<paths>({ baseUrl });
client.use(signer);

function fail(message: string): never {
  throw new Error(message);
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

// The schema each step's answer must conform to, as the document names it
// for that operation.
const kSchemaOf: Record<string, string> = {
  "upload media": "Media", "list media": "MediaList", "media url": "MediaUrl",
  "create site": "Site", "get site": "Site", "rename site": "Site",
  "add space": "Site", "add domain": "Site", "list sites": "SiteList",
  "set home layout": "Site", "site as of": "Site", "unassign": "Site",
  "add menu item": "Navigation", "get navigation": "Navigation",
  "remove menu item": "Navigation", "replace navigation": "Navigation",
  "save layout": "Layout",
  "create theme": "Theme", "get theme": "Theme", "update theme": "Theme",
  "list themes": "ThemeList",
  "create layout": "Layout", "publish layout": "Layout",
  "list layouts": "LayoutList",
  "publish announcement": "Announcement",
  "update announcement": "Announcement",
  "list announcements": "AnnouncementList",
  "set promoted": "Promoted", "get promoted": "Promoted",
  "list promoted": "PromotedList",
  "set featured": "Featured", "get featured": "Featured",
  "submit feedback": "Feedback", "resolve feedback": "Feedback",
  "list feedback": "FeedbackList",
  "list users": "UserList", "get user": "User",
  "list events": "EventList", "usage": "UsageCounts",
  "residency": "Residency",
};

// The answer's data, or a failure naming the step, the status and the
// problem the server sent. The data is checked against the document.
function ok<T>(
  step: string,
  r: { data?: T; error?: unknown; response: Response },
  status: number,
): T {
  if (r.response.status !== status) {
    fail(`${step}: answered ${r.response.status}, not ${status}: ` +
         JSON.stringify(r.error));
  }
  if (r.data === undefined) fail(`${step}: no body`);
  const schema = kSchemaOf[step];
  check(schema !== undefined, `${step}: no schema named for this step`);
  is(step, schema, r.data);
  return r.data;
}

function okEmpty(step: string, r: { error?: unknown; response: Response },
                 status: number): void {
  if (r.response.status !== status) {
    fail(`${step}: answered ${r.response.status}, not ${status}: ` +
         JSON.stringify(r.error));
  }
}

// Checks at run time that `value` has every property the schema requires,
// of the JSON type it promises: what tsc cannot see.
type Kind = "string" | "number" | "boolean" | "array" | "object" | "null";
function kindOf(v: unknown): Kind {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v as Kind;
}
function has(step: string, value: unknown,
             shape: Record<string, Kind | readonly Kind[]>): void {
  check(kindOf(value) === "object", `${step}: not an object`);
  const o = value as Record<string, unknown>;
  for (const [name, kinds] of Object.entries(shape)) {
    const allowed: readonly Kind[] = typeof kinds === "string" ? [kinds] : kinds;
    check(name in o, `${step}: no ${name} in ${JSON.stringify(o)}`);
    check(allowed.includes(kindOf(o[name])),
          `${step}: ${name} is ${kindOf(o[name])}, not ${allowed}`);
  }
}

// The document the types were generated from: each answer is checked
// against its schema's required properties and their JSON types, so that
// a field the document promises but the server does not send fails here.
// Whether the document lists `status` among the operation's answers: an
// error the server gives must be one a client was told to expect.
function documented(step: string, template: string, method: string,
                    status: number): void {
  const operation = doc.paths[template]?.[method];
  check(operation !== undefined, `${step}: ${method} ${template} undocumented`);
  check(String(status) in operation.responses,
        `${step}: ${method} ${template} answered ${status}, which the ` +
        `document does not list`);
}

type JsonSchema = {
  $ref?: string; type?: string | string[]; required?: string[];
  properties?: Record<string, JsonSchema>; items?: JsonSchema;
  oneOf?: JsonSchema[]; anyOf?: JsonSchema[];
};
const doc = JSON.parse(fs.readFileSync(docPath, "utf8")) as {
  components: { schemas: Record<string, JsonSchema> };
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};
function conforms(at: string, value: unknown, schema: JsonSchema): void {
  if (schema.$ref) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    check(target !== undefined, `${at}: no schema ${name}`);
    return conforms(at, value, target);
  }
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) {
    const errors: string[] = [];
    for (const alternative of alternatives) {
      try {
        conforms(at, value, alternative);
        return;
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }
    fail(`${at}: matches no alternative: ${errors.join("; ")}`);
  }
  if (schema.type !== undefined) {
    const types = typeof schema.type === "string" ? [schema.type] : schema.type;
    const kind = kindOf(value);
    const allowed = types.map((t) => (t === "integer" ? "number" : t));
    check(allowed.includes(kind),
          `${at}: is ${kind}, the document says ${types.join(" or ")}`);
    if (types.includes("integer") && kind === "number") {
      check(Number.isInteger(value), `${at}: not an integer`);
    }
  }
  if (kindOf(value) === "object") {
    const o = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      check(name in o, `${at}: the document requires ${name}, the server ` +
                       `sent ${JSON.stringify(o)}`);
    }
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      if (name in o) conforms(`${at}.${name}`, o[name], property);
    }
  }
  if (kindOf(value) === "array" && schema.items) {
    (value as unknown[]).forEach((v, i) => conforms(`${at}[${i}]`, v, schema.items!));
  }
}
function is(step: string, name: string, value: unknown): void {
  conforms(`${step} (${name})`, value, { $ref: `#/components/schemas/${name}` });
}

// The ETag the server answers is the entity's version, quoted.
function etag(step: string, response: Response, version: number): string {
  const tag = response.headers.get("ETag");
  check(tag !== null, `${step}: no ETag`);
  check(tag.includes(String(version)),
        `${step}: ETag ${tag} does not carry version ${version}`);
  return tag;
}

// A 2 x 2 RGB PNG.
function png(): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.from([0, 0, 82, 204, 0, 82, 204, 0, 0, 82, 204, 0, 82, 204]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const kSiteShape = {
  id: "string", name: "string", domains: "array", spaceKeys: "array",
  themeId: ["string", "null"], homeLayoutId: ["string", "null"],
  createdAt: "string", updatedAt: "string", version: "number",
} as const;

function checkList(step: string, list: { items: unknown[]; nextCursor: string | null }) {
  has(step, list, { items: "array", nextCursor: ["string", "null"] });
}

async function main(): Promise<void> {
  // ----- media first: the theme and the featured page use it -----------
  const uploaded = ok("upload media", await client.POST("/api/v1/media", {
    params: { query: { kind: "theme-image" } },
    // The body is the image itself; the generated type of a binary body
    // is a string, the bytes go as they are.
    body: png() as unknown as string,
    bodySerializer: (b: unknown) => b as BodyInit,
    headers: { "Content-Type": "image/png" },
  }), 201);
  has("upload media", uploaded, {
    id: "string", type: "string", size: "number",
    width: ["number", "null"], height: ["number", "null"],
  });
  const mediaId: string = uploaded.id;
  const mediaList = ok("list media", await client.GET("/api/v1/media"), 200);
  checkList("list media", mediaList);
  check(mediaList.items.some((m: Schemas["Media"]) => m.id === mediaId),
        "list media: the upload is missing");
  const url = ok("media url", await client.POST("/api/v1/media/{id}/url", {
    params: { path: { id: mediaId } },
  }), 200);
  has("media url", url, { url: "string", path: "string", expiresAt: "string" });
  const image = await client.GET("/api/v1/media/{id}", {
    params: { path: { id: mediaId } }, parseAs: "arrayBuffer",
  });
  check(image.response.status === 200, "get media: not 200");
  check(image.data instanceof ArrayBuffer &&
        image.data.byteLength === uploaded.size, "get media: other bytes");
  const range = await client.GET("/api/v1/media/{id}", {
    params: { path: { id: mediaId } }, parseAs: "arrayBuffer",
    headers: { Range: "bytes=0-7" },
  });
  check(range.response.status === 206, "media range: not 206");
  documented("media range", "/api/v1/media/{id}", "get", 206);
  check(range.data instanceof ArrayBuffer && range.data.byteLength === 8,
        "media range: not 8 bytes");
  // The signed URL serves the same bytes without a token.
  const viaUrl = await fetch(baseUrl + url.path);
  check(viaUrl.status === 200, "signed media url: not 200");
  documented("signed media url", "/media/{handle}", "get", 200);
  check((await viaUrl.arrayBuffer()).byteLength === uploaded.size,
        "signed media url: other bytes");

  // ----- sites --------------------------------------------------------
  const site = ok("create site", await client.POST("/api/v1/sites", {
    body: { name: "Intranet" },
  }), 201);
  has("create site", site, kSiteShape);
  const siteId = site.id;
  const got = await client.GET("/api/v1/sites/{id}", {
    params: { path: { id: siteId } },
  });
  const read = ok("get site", got, 200);
  check(read.name === "Intranet", "get site: other name");
  let tag = etag("get site", got.response, read.version);
  const renamed = ok("rename site", await client.PATCH("/api/v1/sites/{id}", {
    params: { path: { id: siteId }, header: { "If-Match": tag } },
    body: { name: "Intranet 2" },
  }), 200);
  has("rename site", renamed, kSiteShape);
  check(renamed.name === "Intranet 2", "rename site: not renamed");
  // The old ETag is stale now: 412, as documented.
  const stale = await client.PATCH("/api/v1/sites/{id}", {
    params: { path: { id: siteId }, header: { "If-Match": tag } },
    body: { name: "Lost update" },
  });
  check(stale.response.status === 412, "stale If-Match: not 412");
  is("stale If-Match", "Problem", stale.error);
  documented("stale If-Match", "/api/v1/sites/{id}", "patch", 412);
  check(stale.response.headers.get("Content-Type")?.startsWith(
            "application/problem+json"), "412 is not problem+json");
  const withSpace = ok("add space", await client.PUT(
      "/api/v1/sites/{id}/spaces/{spaceKey}",
      { params: { path: { id: siteId, spaceKey: "HR" } } }), 200);
  check(withSpace.spaceKeys.includes("HR"), "add space: missing");
  const withDomain = ok("add domain", await client.PUT(
      "/api/v1/sites/{id}/domains/{domain}",
      { params: { path: { id: siteId, domain: "intranet.example.com" } } }),
      200);
  check(withDomain.domains.includes("intranet.example.com"),
        "add domain: missing");
  const sites = ok("list sites", await client.GET("/api/v1/sites", {
    params: { query: { limit: 10 } },
  }), 200);
  checkList("list sites", sites);
  check(sites.items.length === 1, "list sites: not one site");
  has("list sites item", sites.items[0], kSiteShape);

  // ----- navigation ---------------------------------------------------
  const nav = ok("add menu item", await client.POST(
      "/api/v1/sites/{id}/navigation/items", {
        params: { path: { id: siteId } },
        body: { item: { id: "home", label: "Home",
                        link: { url: "https://example.com/" } } },
      }), 201);
  has("add menu item", nav, { siteId: "string", items: "array", version: "number" });
  const navRead = ok("get navigation", await client.GET(
      "/api/v1/sites/{id}/navigation", { params: { path: { id: siteId } } }),
      200);
  check(navRead.items.length === 1, "get navigation: not one item");
  const navReplaced = ok("replace navigation", await client.PUT(
      "/api/v1/sites/{id}/navigation", {
        params: { path: { id: siteId },
                  header: { "If-Match": `"${navRead.version}"` } },
        body: { items: [
          { id: "home", label: "Home", link: { url: "https://example.com/" },
            children: [{ id: "hr", label: "HR", link: { spaceKey: "HR" } }] },
        ] },
      }), 200);
  check(navReplaced.items[0].children?.length === 1,
        "replace navigation: no child");

  // ----- themes -------------------------------------------------------
  const theme = ok("create theme", await client.POST("/api/v1/themes", {
    body: { name: "Dark", colors: { primary: "#000000" },
            media: { logo: mediaId } },
  }), 201);
  has("create theme", theme, { id: "string", name: "string", version: "number" });
  const themeGet = await client.GET("/api/v1/themes/{id}", {
    params: { path: { id: theme.id } } });
  tag = etag("get theme", themeGet.response, ok("get theme", themeGet, 200).version);
  const themeUpdated = ok("update theme", await client.PUT("/api/v1/themes/{id}", {
    params: { path: { id: theme.id }, header: { "If-Match": tag } },
    body: { name: "Darker" },
  }), 200);
  check(themeUpdated.name === "Darker", "update theme: not updated");
  checkList("list themes", ok("list themes", await client.GET("/api/v1/themes"), 200));

  // ----- layouts ------------------------------------------------------
  const layout = ok("create layout", await client.POST("/api/v1/layouts", {
    body: { name: "Home", sections: [] },
  }), 201);
  has("create layout", layout, { id: "string", name: "string", draft: "object",
                                 published: ["object", "null"], version: "number" });
  const saved = ok("save layout", await client.PUT("/api/v1/layouts/{id}", {
    params: { path: { id: layout.id },
              header: { "If-Match": `"${layout.version}"` } },
    body: { name: "Home", sections: [{ id: "s1", columns: [{ id: "c1",
      width: 12, modules: [{ id: "m1", type: "text",
                             props: { text: "Welcome" } }] }] }] },
  }), 200);
  check(saved.draft.sections?.length === 1, "save layout: no section");
  const published = ok("publish layout", await client.POST(
      "/api/v1/layouts/{id}/publish", {
        params: { path: { id: layout.id },
                  header: { "If-Match": `"${saved.version}"` } },
      }), 200);
  check(published.published !== null, "publish layout: not published");
  const homed = ok("set home layout", await client.PATCH("/api/v1/sites/{id}", {
    params: { path: { id: siteId } },
    body: { homeLayoutId: layout.id, themeId: theme.id },
  }), 200);
  check(homed.homeLayoutId === layout.id && homed.themeId === theme.id,
        "set home layout: not set");
  checkList("list layouts", ok("list layouts", await client.GET("/api/v1/layouts"), 200));

  // ----- announcements: the audience is exactly one of two shapes -----
  const announcement = ok("publish announcement", await client.POST(
      "/api/v1/announcements", {
        body: { text: "Welcome", severity: "info",
                startsAt: "2020-01-01T00:00:00Z", audience: { all: true } },
      }), 201);
  has("publish announcement", announcement, {
    id: "string", text: "string", severity: "string", startsAt: "string",
    audience: "object", version: "number" });
  const audience: Schemas["Announcement"]["audience"] = announcement.audience;
  check("all" in audience && audience.all === true, "announcement: audience");
  const announcementUpdated = ok("update announcement", await client.PUT(
      "/api/v1/announcements/{id}", {
        params: { path: { id: announcement.id },
                  header: { "If-Match": `"${announcement.version}"` } },
        body: { text: "Welcome, HR", severity: "warning",
                startsAt: "2020-01-01T00:00:00Z",
                audience: { spaceKeys: ["HR"] } },
      }), 200);
  check("spaceKeys" in announcementUpdated.audience &&
        announcementUpdated.audience.spaceKeys[0] === "HR",
        "update announcement: audience");
  // Both alternatives at once contradict the oneOf: the server refuses it.
  const both = await client.POST("/api/v1/announcements", {
    body: { text: "x", severity: "info", startsAt: "2020-01-01T00:00:00Z",
            audience: { all: true, spaceKeys: ["HR"] } as never },
  });
  check(both.response.status === 400, "audience with both: not 400");
  is("audience with both", "Problem", both.error);
  documented("audience with both", "/api/v1/announcements", "post", 400);
  const announcements = ok("list announcements", await client.GET(
      "/api/v1/announcements",
      { params: { query: { active_at: "2021-01-01T00:00:00Z" } } }), 200);
  checkList("list announcements", announcements);
  check(announcements.items.length === 1, "list announcements: not one");

  // ----- promoted results, featured pages -----------------------------
  const promoted = ok("set promoted", await client.PUT(
      "/api/v1/search/promoted/{keyword}", {
        params: { path: { keyword: "HR Portal" } },
        body: { results: [{ contentId: "12345" },
                          { url: "https://hr.example.com/", title: "HR" }] },
      }), 200);
  has("set promoted", promoted, { keyword: "string", results: "array", version: "number" });
  const promotedGet = await client.GET("/api/v1/search/promoted/{keyword}", {
    params: { path: { keyword: "HR Portal" } } });
  check(ok("get promoted", promotedGet, 200).results.length === 2,
        "get promoted: not two results");
  checkList("list promoted", ok("list promoted",
      await client.GET("/api/v1/search/promoted"), 200));
  const featured = ok("set featured", await client.PUT(
      "/api/v1/pages/{contentId}/featured", {
        params: { path: { contentId: "12345" } },
        body: { mediaId, text: "Our new office" },
      }), 200);
  has("set featured", featured, { contentId: "string", version: "number" });
  ok("get featured", await client.GET("/api/v1/pages/{contentId}/featured",
      { params: { path: { contentId: "12345" } } }), 200);

  // ----- feedback, users, events, usage, residency ---------------------
  const feedback = ok("submit feedback", await client.POST("/api/v1/feedback", {
    body: { text: "Great intranet", rating: 5, contentId: "12345" },
  }), 201);
  has("submit feedback", feedback, { id: "string", text: "string",
      submitter: "string", status: "string", submittedAt: "string",
      version: "number" });
  const resolved = ok("resolve feedback", await client.POST(
      "/api/v1/feedback/{id}/resolve", {
        params: { path: { id: feedback.id },
                  header: { "If-Match": `"${feedback.version}"` } } }), 200);
  check(resolved.status === "resolved", "resolve feedback: not resolved");
  checkList("list feedback", ok("list feedback", await client.GET("/api/v1/feedback"), 200));
  const users = ok("list users", await client.GET("/api/v1/users"), 200);
  checkList("list users", users);
  check(users.items.length >= 1, "list users: the submitter is missing");
  has("get user", ok("get user", await client.GET("/api/v1/users/{id}", {
    params: { path: { id: users.items[0].id } } }), 200), { id: "string", version: "number" });
  const events = ok("list events", await client.GET("/api/v1/events", {
    params: { query: { limit: 1000 } } }), 200);
  checkList("list events", events);
  for (const e of events.items) {
    has("event", e, { seq: "number", time: "string", type: "string",
                      actor: ["string", "null"], payload: "object" });
  }
  check(events.items.some((e: Schemas["Event"]) => e.type === "site.created"),
        "list events: no site.created");
  has("usage", ok("usage", await client.GET("/api/v1/usage"), 200),
      { sites: "number", themes: "number", customDomains: "number", spaces: "number" });
  const residency = ok("residency", await client.GET("/api/v1/residency"), 200);
  has("residency", residency, { region: "string", homeBaseUrl: "string",
      state: "string", progress: ["object", "null"],
      rollbackDeadline: ["string", "null"] });
  check(residency.state === "home", "residency: not home");
  // As of an earlier point: the site before its rename.
  const before = ok("site as of", await client.GET("/api/v1/sites/{id}", {
    params: { path: { id: siteId }, query: { as_of: `seq:${site.version}` } },
  }), 200);
  check(before.name === "Intranet", "site as of: not the first name");

  // ----- deletions, each answered 204, then 404 -----------------------
  const unassigned = ok("unassign", await client.PATCH("/api/v1/sites/{id}", {
    params: { path: { id: siteId } },
    body: { homeLayoutId: null, themeId: null },
  }), 200);
  check(unassigned.themeId === null, "unassign: theme still set");
  okEmpty("delete feedback", await client.DELETE("/api/v1/feedback/{id}", {
    params: { path: { id: feedback.id } } }), 204);
  okEmpty("clear featured", await client.DELETE("/api/v1/pages/{contentId}/featured", {
    params: { path: { contentId: "12345" } } }), 204);
  okEmpty("clear promoted", await client.DELETE("/api/v1/search/promoted/{keyword}", {
    params: { path: { keyword: "HR Portal" } } }), 204);
  okEmpty("delete announcement", await client.DELETE("/api/v1/announcements/{id}", {
    params: { path: { id: announcement.id } } }), 204);
  okEmpty("delete layout", await client.DELETE("/api/v1/layouts/{id}", {
    params: { path: { id: layout.id } } }), 204);
  okEmpty("delete theme", await client.DELETE("/api/v1/themes/{id}", {
    params: { path: { id: theme.id } } }), 204);
  const navLeft = ok("remove menu item", await client.DELETE(
      "/api/v1/sites/{id}/navigation/items/{itemId}",
      { params: { path: { id: siteId, itemId: "home" } } }), 200);
  check(navLeft.items.length === 0, "remove menu item: still there");
  okEmpty("delete site", await client.DELETE("/api/v1/sites/{id}", {
    params: { path: { id: siteId }, header: { "If-Match": `"${unassigned.version}"` } },
  }), 204);
  okEmpty("delete media", await client.DELETE("/api/v1/media/{id}", {
    params: { path: { id: mediaId } } }), 204);
  const gone = await client.GET("/api/v1/sites/{id}", {
    params: { path: { id: siteId } } });
  check(gone.response.status === 404, "deleted site: not 404");
  is("deleted site", "Problem", gone.error);
  documented("deleted site", "/api/v1/sites/{id}", "get", 404);
  // Without a token: 401, as every tenant route documents.
  const anonymous = await fetch(baseUrl + "/api/v1/sites");
  check(anonymous.status === 401, "no token: not 401");
  is("no token", "Problem", await anonymous.json());
  documented("no token", "/api/v1/sites", "get", 401);
  console.log("ok");
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
