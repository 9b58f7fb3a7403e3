// Kubernetes JSON schemas for kubeconform, offline: the ones the PyPI package
// kubernetes-validate ships (installed by scripts/setup.sh into a venv under
// ~/.cache/mlbridge), rewritten once into ~/.cache/mlbridge/k8s-schemas/: their
// $refs point at https://kubernetes.io/api/_definitions.json; made relative to
// the file (and the $id dropped), kubeconform resolves them on disk.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const cache = path.join(os.homedir(), ".cache", "mlbridge");
export const HELM = process.env.MLBRIDGE_HELM ?? path.join(cache, "bin", "helm");
export const KUBECONFORM = process.env.MLBRIDGE_KUBECONFORM ?? path.join(cache, "bin", "kubeconform");
/** The Kubernetes version the manifests are checked against. */
export const KUBERNETES_VERSION = "1.33.0";

/** kubernetes-validate's schema folder, or undefined when it is not installed. */
function shipped() {
  const lib = path.join(cache, "kubernetes-validate", "lib");
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const dir = path.join(lib, py, "site-packages", "kubernetes_validate", "kubernetes-json-schema");
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/**
 * The folder to give kubeconform's -schema-location (it holds
 * `v<version>-local-strict/`), made on first use; undefined when
 * kubernetes-validate is not installed.
 */
export function localSchemas(version = KUBERNETES_VERSION) {
  const out = path.join(cache, "k8s-schemas");
  const name = `v${version}-local-strict`;
  const target = path.join(out, name);
  if (existsSync(path.join(target, ".done"))) return out;
  const from = shipped();
  if (!from || !existsSync(path.join(from, name))) return undefined;
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of readdirSync(path.join(from, name))) {
    const schema = JSON.parse(readFileSync(path.join(from, name, f), "utf8"));
    delete schema.$id;
    const text = JSON.stringify(schema).replace(/"(?:https:\/\/kubernetes\.io)?\/api\/_definitions\.json#/g, '"_definitions.json#');
    writeFileSync(path.join(tmp, f), text);
  }
  writeFileSync(path.join(tmp, ".done"), "");
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
  return out;
}
