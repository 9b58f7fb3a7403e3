#!/usr/bin/env node
// Generates docs/api.md from the comments in proto/ (via `buf build`'s
// descriptor set with source info). `--check` fails when docs/api.md is stale.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const buf = path.join(root, "node_modules/.bin/buf");
const fds = JSON.parse(execFileSync(buf, ["build", "-o", "-#format=json"], { cwd: path.join(root, "proto"), maxBuffer: 64 << 20 }).toString());

const TYPES = {
  TYPE_DOUBLE: "double",
  TYPE_FLOAT: "float",
  TYPE_INT64: "int64",
  TYPE_UINT64: "uint64",
  TYPE_INT32: "int32",
  TYPE_UINT32: "uint32",
  TYPE_BOOL: "bool",
  TYPE_STRING: "string",
  TYPE_BYTES: "bytes",
};
const out = ["# API reference", "", "Generated from the comments in `proto/` by `scripts/gen-api-docs.mjs`; do not edit by hand.", ""];

for (const file of fds.file.filter((f) => f.name.startsWith("mlbridge/"))) {
  const comments = new Map();
  for (const loc of file.sourceCodeInfo?.location ?? []) {
    if (loc.leadingComments) comments.set((loc.path ?? []).join("."), loc.leadingComments.trim().replace(/\n\s*/g, " "));
  }
  const doc = (p) => comments.get(p.join(".")) ?? "";
  const mapEntries = new Set();
  out.push(`## ${file.name}`, "");
  (file.service ?? []).forEach((s, si) => {
    out.push(`### service ${file.package}.${s.name}`, "", doc([6, si]), "", "| RPC | request | response | description |", "| --- | --- | --- | --- |");
    (s.method ?? []).forEach((m, mi) => {
      const t = (n, stream) => `${stream ? "stream " : ""}${n.split(".").pop()}`;
      out.push(`| ${m.name} | ${t(m.inputType, m.clientStreaming)} | ${t(m.outputType, m.serverStreaming)} | ${doc([6, si, 2, mi])} |`);
    });
    out.push("");
  });
  (file.enumType ?? []).forEach((e, ei) => {
    out.push(`### enum ${e.name}`, "", doc([5, ei]), "", "| value | number | description |", "| --- | --- | --- |");
    e.value.forEach((v, vi) => out.push(`| ${v.name} | ${v.number ?? 0} | ${doc([5, ei, 2, vi])} |`));
    out.push("");
  });
  (file.messageType ?? []).forEach((m, mi) => {
    for (const n of m.nestedType ?? []) if (n.options?.mapEntry) mapEntries.add(n.name);
    out.push(`### message ${m.name}`, "", doc([4, mi]), "");
    if (!(m.field ?? []).length) {
      out.push("(no fields)", "");
      return;
    }
    out.push("| field | type | description |", "| --- | --- | --- |");
    (m.field ?? []).forEach((f, fi) => {
      let type = TYPES[f.type] ?? (f.typeName ?? "").split(".").pop();
      const nested = (m.nestedType ?? []).find((n) => n.name === type && n.options?.mapEntry);
      if (nested) type = `map<${TYPES[nested.field[0].type]}, ${TYPES[nested.field[1].type] ?? nested.field[1].typeName.split(".").pop()}>`;
      else if (f.label === "LABEL_REPEATED") type = `repeated ${type}`;
      if (f.proto3Optional) type = `optional ${type}`;
      const oneof = f.oneofIndex !== undefined && !f.proto3Optional ? ` (oneof ${m.oneofDecl[f.oneofIndex].name})` : "";
      out.push(`| ${f.name} = ${f.number} | ${type}${oneof} | ${doc([4, mi, 2, fi]).replace(/\|/g, "\\|")} |`);
    });
    out.push("");
  });
}

const text = out.join("\n").replace(/\n{3,}/g, "\n\n");
const target = path.join(root, "docs/api.md");
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {}
  if (current !== text) {
    console.error("docs/api.md is out of date: run `node scripts/gen-api-docs.mjs`");
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.log(`wrote ${path.relative(root, target)}`);
}
