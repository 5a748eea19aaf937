// Signs a PDF with @libpdf/core (the signer Documenso uses), PAdES B-B,
// the same way Documenso does: PDF.load + pdf.sign with a P12Signer.
// Usage: node libpdf-sign.mjs IN.pdf OUT.pdf SIGNER.p12 PASSWORD
import { readFile, writeFile } from "node:fs/promises";
import { PDF, P12Signer } from "@libpdf/core";

const [inPath, outPath, p12Path, password] = process.argv.slice(2);
if (!inPath || !outPath || !p12Path || password === undefined) {
  console.error("usage: node libpdf-sign.mjs IN.pdf OUT.pdf SIGNER.p12 PASSWORD");
  process.exit(2);
}
const [bytes, p12] = await Promise.all([readFile(inPath), readFile(p12Path)]);
const signer = await P12Signer.create(p12, password);
const pdf = await PDF.load(bytes);
const { bytes: signed, warnings } = await pdf.sign({ signer, level: "B-B", reason: "Bench" });
for (const w of warnings ?? []) console.error("warning:", w.message ?? w);
await writeFile(outPath, signed);
