#!/usr/bin/env node
// Builds the deployment package dist/function.zip: one esbuild bundle, index.js
// (handler `index.handler`; CommonJS, platform node, target node20, minified),
// and nothing else. Fails if the bundle would load the native addon.
import { build } from "esbuild";
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import yazl from "yazl";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const bundleDir = join(dist, "bundle");
const bundlePath = join(bundleDir, "index.js");
const zipPath = join(dist, "function.zip");

rmSync(bundleDir, { recursive: true, force: true });
rmSync(zipPath, { force: true });
mkdirSync(bundleDir, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ["src/handler.ts"],
  outfile: bundlePath,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  legalComments: "none",
  // tsconfig.json maps @mlbridge/core/text to core's source (no core build, no addon).
  tsconfig: "tsconfig.json",
  metafile: true,
  logLevel: "warning",
});

// The bundle must not pull in the native addon: no binding module, no .node file.
const inputs = Object.keys(result.metafile.inputs);
const bad = inputs.filter((p) => /(^|\/)binding\.(ts|js)$/.test(p) || p.endsWith(".node"));
const code = readFileSync(bundlePath, "utf8");
if (bad.length > 0 || /\.node["'`]/.test(code) || /mlbridge\.node|node-gyp-build|bindings\(/.test(code)) {
  console.error(`package: the bundle pulls in the native addon (${bad.join(", ") || "a .node require"})`);
  process.exit(1);
}
if (!/exports|module\.exports/.test(code) || !code.includes("handler")) {
  console.error("package: the bundle does not export a handler");
  process.exit(1);
}
writeFileSync(join(dist, "meta.json"), JSON.stringify(result.metafile, null, 2));

// A reproducible zip: fixed time stamp and mode, deflated.
const zip = new yazl.ZipFile();
zip.addBuffer(Buffer.from(code, "utf8"), "index.js", {
  mtime: new Date("2000-01-01T00:00:00Z"),
  mode: 0o100644,
  compress: true,
});
zip.end();
await new Promise((resolve, reject) => {
  const out = createWriteStream(zipPath);
  zip.outputStream.pipe(out).on("close", resolve).on("error", reject);
  zip.outputStream.on("error", reject);
});

const sources = inputs.map((p) => relative(root, join(root, p))).join(", ");
console.log(`package: ${relative(root, zipPath)} ${statSync(zipPath).size} bytes (index.js ${Buffer.byteLength(code)} bytes; sources: ${sources})`);
