/**
 * The Helm chart (deploy/helm/mlbridge) and the KServe / ModelMesh manifests
 * (deploy/kserve, deploy/modelmesh), checked offline: `helm lint` (the
 * values.schema.json included), `helm template | kubeconform -strict` against
 * the Kubernetes JSON schemas kubernetes-validate ships (scripts/lib/k8s-schemas.mjs).
 * KServe's and Prometheus Operator's CRD kinds have no schema there: kubeconform
 * skips them (-skip), and this test checks their fields itself.
 * helm, kubeconform and kubernetes-validate come from scripts/setup.sh.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as k8s from "../../../scripts/lib/k8s-schemas.mjs";

const { HELM, KUBECONFORM, KUBERNETES_VERSION, localSchemas } = k8s as {
  HELM: string;
  KUBECONFORM: string;
  KUBERNETES_VERSION: string;
  localSchemas(): string | undefined;
};
const root = path.resolve(__dirname, "../../..");
const chart = path.join(root, "deploy/helm/mlbridge");
const CRD_KINDS = "ServiceMonitor,ClusterServingRuntime,ServingRuntime,InferenceService";
const schemas = existsSync(HELM) && existsSync(KUBECONFORM) ? localSchemas() : undefined;
if (!schemas) console.log(`chart tests skipped: no helm, kubeconform or kubernetes-validate under ~/.cache/mlbridge (scripts/setup.sh installs them)`);

const helm = (args: string[]) => spawnSync(HELM, args, { encoding: "utf8" });
/** Runs kubeconform -strict on YAML; returns its exit status and output. */
function kubeconform(yaml: string) {
  const r = spawnSync(
    KUBECONFORM,
    [
      "-strict",
      "-summary",
      "-kubernetes-version",
      KUBERNETES_VERSION,
      "-skip",
      CRD_KINDS,
      "-schema-location",
      `${schemas}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      "-",
    ],
    { input: yaml, encoding: "utf8" },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}
const render = (set: string[] = []) => execFileSync(HELM, ["template", "demo", chart, ...set.flatMap((s) => ["--set", s])], { encoding: "utf8" });
const ALL_ON = [
  "autoscaling.enabled=true",
  "serviceMonitor.enabled=true",
  "store.url=s3://models/mlbridge",
  "store.s3Endpoint=http://minio:9000",
  "store.credentialsSecret=s3",
  "auth.existingSecret=token",
  "load[0]=iris=s3://models/iris/v1",
];

// In CI a missing tool is a failure, not a skip: setup.sh must have installed them.
it.runIf(process.env.CI === "true")("has helm, kubeconform and the Kubernetes schemas in CI (scripts/setup.sh installs them)", () => {
  expect(schemas).toBeDefined();
});

describe.skipIf(!schemas)("the Helm chart", () => {
  it("passes helm lint, with defaults and with every option on", () => {
    for (const set of [[], ALL_ON]) {
      const r = helm(["lint", "--strict", chart, ...set.flatMap((s) => ["--set", s])]);
      expect(r.stdout + r.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
      expect(r.status).toBe(0);
    }
  });

  it("renders manifests kubeconform -strict accepts: Deployment, Service, SA, PDB, HPA (the ServiceMonitor CRD skipped)", () => {
    const defaults = kubeconform(render());
    expect(defaults.out).toContain("Valid: 4, Invalid: 0, Errors: 0");
    expect(defaults.status).toBe(0);
    const all = kubeconform(render(ALL_ON));
    expect(all.out).toContain("Valid: 5, Invalid: 0, Errors: 0, Skipped: 1");
    expect(all.status).toBe(0);
  });

  it("wires the probes, the port, the secrets and the store as the server reads them", () => {
    const yaml = render(ALL_ON);
    expect(yaml).toMatch(/livenessProbe:\n\s+grpc:\n\s+port: 50051\n\s+service: ""/);
    expect(yaml).toMatch(/readinessProbe:\n\s+grpc:\n\s+port: 50051/);
    expect(yaml).toMatch(/- name: grpc\n\s+port: 50051\n\s+targetPort: grpc\n\s+protocol: TCP\n\s+appProtocol: kubernetes.io\/h2c/);
    expect(yaml).toMatch(/- name: MLBRIDGE_AUTH_TOKEN\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: token\n\s+key: token/);
    expect(yaml).toMatch(/- name: AWS_SECRET_ACCESS_KEY\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: s3/);
    expect(yaml).toContain('value: "s3://models/mlbridge"');
    expect(yaml).toContain('args: ["serve", "--load", "iris=s3://models/iris/v1"]');
    expect(yaml).toContain("readOnlyRootFilesystem: true");
    expect(yaml).toContain("runAsNonRoot: true");
    expect(yaml).not.toMatch(/^\s+replicas:/m); // the HPA owns the count
  });

  it("rejects values of the wrong type (values.schema.json)", () => {
    for (const [set, message] of [
      ["replicaCount=abc", "at '/replicaCount': got string, want integer"],
      ["ports.grpc=70000", "at '/ports/grpc'"],
      ["store.url=http://bucket/x", "at '/store/url'"],
      ["autoscaling.enabled=maybe", "at '/autoscaling/enabled': got string, want boolean"],
      ["replicas=3", "additional properties 'replicas' not allowed"],
    ]) {
      const r = helm(["lint", chart, "--set", set]);
      expect(r.status, set).not.toBe(0);
      expect(r.stdout + r.stderr).toContain(message);
    }
  });

  it("kubeconform fails a manifest with a wrong field type or an unknown field", () => {
    const yaml = render();
    const wrongType = kubeconform(yaml.replace("containerPort: 50051", 'containerPort: "50051"'));
    expect(wrongType.status).not.toBe(0);
    expect(wrongType.out).toContain("at '/spec/template/spec/containers/0/ports/0/containerPort': got string, want integer");
    const unknown = kubeconform(yaml.replace(/^(\s+)readinessProbe:/m, "$1readinesProbe:"));
    expect(unknown.status).not.toBe(0);
    expect(unknown.out).toContain("additional properties 'readinesProbe' not allowed");
  });
});

describe("the KServe and ModelMesh manifests", () => {
  const read = (f: string) => readFileSync(path.join(root, "deploy", f), "utf8");

  it.skipIf(!schemas)("are YAML Kubernetes objects kubeconform parses (their CRD kinds skipped)", () => {
    for (const f of ["kserve/clusterservingruntime.yaml", "kserve/inferenceservice.yaml", "modelmesh/servingruntime.yaml", "modelmesh/inferenceservice.yaml"]) {
      const r = kubeconform(read(f));
      expect(r.out, f).toContain("Invalid: 0, Errors: 0, Skipped: 1");
    }
  });

  it("KServe: xgboost and crfsuite over grpc-v2, the model from /mnt/models through --load", () => {
    const rt = read("kserve/clusterservingruntime.yaml");
    expect(rt).toContain("kind: ClusterServingRuntime");
    expect(rt).toMatch(/- name: xgboost[\s\S]*- name: crfsuite/);
    expect(rt).toMatch(/protocolVersions:\n\s+- grpc-v2/);
    expect(rt).toContain('"{{.Name}}=/mnt/models"');
    expect(read("kserve/inferenceservice.yaml")).toContain("runtime: kserve-mlbridge");
  });

  it("ModelMesh: multiModel, the SPI and data endpoints on ports ModelMesh leaves free (not 8080)", () => {
    const rt = read("modelmesh/servingruntime.yaml");
    expect(rt).toContain("multiModel: true");
    const spi = /grpcEndpoint: "port:(\d+)"/.exec(rt)![1];
    const data = /grpcDataEndpoint: "port:(\d+)"/.exec(rt)![1];
    expect([spi, data]).not.toContain("8080");
    expect(rt).toContain(`name: MLBRIDGE_MODELMESH_PORT\n          value: "${spi}"`);
    expect(rt).toContain(`name: MLBRIDGE_PORT\n          value: "${data}"`);
  });
});
