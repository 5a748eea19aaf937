// Certyneo's quickstart with openapi-fetch and types generated from the
// running server's /api/openapi.json (gen/api.d.ts). Driven by ts_test.go:
// BASE, KEY, PDF (input) and OUT (the signed PDF) come from the environment.
import { readFile, writeFile } from "node:fs/promises";
import createClient from "openapi-fetch";
import type { components, paths } from "./gen/api";

type Envelope = components["schemas"]["Envelope"];
type Problem = components["schemas"]["Problem"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const base = env("BASE");
const api = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${env("KEY")}` } });
const signer = createClient<paths>({ baseUrl: base });

function fail(step: string, error: Problem | undefined, status: number): never {
  throw new Error(`${step}: ${status} ${error?.code ?? ""} ${error?.detail ?? ""} (trace ${error?.traceId ?? "?"})`);
}

// The generated types are precise: each of these is a compile error, and
// tsc fails on an unused @ts-expect-error, so `any` cannot creep in.
export function typeChecks(e: Envelope): void {
  // @ts-expect-error: status is an enum, not any string.
  const s: Envelope["status"] = "SIGNED";
  // @ts-expect-error: sentAt may be null.
  const t: string = e.sentAt;
  // @ts-expect-error: unknown route.
  void api.GET("/api/v1/nope");
  // @ts-expect-error: recipients need a name.
  void api.POST("/api/v1/envelopes", { body: { subject: "x", documentIds: ["d"], recipients: [{ email: "a@b.c" }] } });
  void s;
  void t;
}

const pdf = await readFile(env("PDF"));

// 1. Upload the PDF (multipart) and keep its id. The body is typed by the
// DocumentUploadForm schema; the serializer turns it into the FormData sent,
// with the file's bytes in place of the schema's binary string.
const upload = await api.POST("/api/v1/documents", {
  body: { file: "contrat.pdf", filename: "contrat.pdf" },
  bodySerializer(body) {
    const form = new FormData();
    if (typeof body === "object" && body.filename) form.append("filename", body.filename);
    form.append("file", new Blob([pdf], { type: "application/pdf" }), "contrat.pdf");
    return form;
  },
});
if (!upload.data) fail("upload", upload.error, upload.response.status);
const doc = upload.data;
if (!doc.validation.signable) throw new Error(`document not signable: ${JSON.stringify(doc.validation)}`);

// 2. A DRAFT envelope for that document.
const created = await api.POST("/api/v1/envelopes", {
  body: {
    subject: "Contrat de prestation",
    documentIds: [doc.id],
    recipients: [{ email: "client@example.com", name: "Marie Dubois", role: "SIGNER" }],
  },
});
if (!created.data) fail("create", created.error, created.response.status);

// 3. Send it.
const sent = await api.POST("/api/v1/envelopes/{envelopeId}/send", {
  params: { path: { envelopeId: created.data.id } },
});
if (!sent.data) fail("send", sent.error, sent.response.status);
const signUrl = sent.data.recipients[0]?.signUrl;
if (!signUrl) throw new Error("no signUrl after send");
const token = new URL(signUrl).pathname.split("/s/")[1] ?? "";

// 4. Sign through the signer API (no API key: the token is the credential).
const signed = await signer.POST("/api/v1/signer/{token}/sign", {
  params: { path: { token } },
  body: { consent: true, signature: { type: "typed", text: "Marie Dubois" } },
});
if (!signed.data) fail("sign", signed.error, signed.response.status);

// 5. Wait for COMPLETED.
let envelope: Envelope = sent.data;
const deadline = Date.now() + 120_000;
while (envelope.status !== "COMPLETED") {
  if (["DECLINED", "VOIDED", "EXPIRED"].includes(envelope.status)) throw new Error(`envelope ended ${envelope.status}`);
  if (Date.now() > deadline) throw new Error(`envelope still ${envelope.status}`);
  await new Promise((r) => setTimeout(r, 250));
  const got = await api.GET("/api/v1/envelopes/{envelopeId}", { params: { path: { envelopeId: envelope.id } } });
  if (!got.data) fail("get", got.error, got.response.status);
  envelope = got.data;
}

// 6. Download the signed PDF.
const file = await api.GET("/api/v1/envelopes/{envelopeId}/signed-document", {
  params: { path: { envelopeId: envelope.id } },
  parseAs: "arrayBuffer",
});
if (!file.data) fail("download", file.error, file.response.status);
await writeFile(env("OUT"), new Uint8Array(file.data));

// A problem document is typed too.
const missing = await api.GET("/api/v1/envelopes/{envelopeId}", {
  params: { path: { envelopeId: "env_00000000000000000000000000000000" } },
});
if (missing.response.status !== 404 || !missing.error?.code) throw new Error(`unknown envelope: ${missing.response.status}`);

console.log(JSON.stringify({ documentId: doc.id, envelopeId: envelope.id, status: envelope.status, bytes: file.data.byteLength }));
