/**
 * A real S3-compatible server for tests: versitygw (Apache-2.0), installed by
 * scripts/setup.sh with `go install` into ~/.cache/mlbridge/bin (outside the
 * clone), started here on a free loopback port over a temporary folder.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

/** Where setup.sh puts versitygw (MLBRIDGE_VERSITYGW overrides). */
export const VERSITYGW = process.env.MLBRIDGE_VERSITYGW ?? path.join(os.homedir(), ".cache", "mlbridge", "bin", "versitygw");
export const haveVersitygw = existsSync(VERSITYGW);

export const ACCESS_KEY = "mlbridge-test";
export const SECRET_KEY = "mlbridge-test-secret";

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A running versitygw: its endpoint, a client, and stop/start (the data stays between them). */
export interface ObjectStore {
  endpoint: string;
  client: S3Client;
  /** Environment for an mlbridge server using it. */
  env: Record<string, string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

export async function startObjectStore(bucket: string): Promise<ObjectStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-s3-"));
  const data = path.join(dir, "data");
  const versions = path.join(dir, "versions");
  mkdirSync(data);
  mkdirSync(versions);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(VERSITYGW, ["--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", `127.0.0.1:${port}`, "posix", "--versioning-dir", versions, data], {
      stdio: "ignore",
    });
    for (let i = 0; i < 200; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const sock = net.connect(port, "127.0.0.1", () => {
          sock.destroy();
          resolve(true);
        });
        sock.on("error", () => resolve(false));
      });
      if (up) return;
      if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("versitygw did not start in 5 s");
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };
  await start();
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    client,
    env: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: "us-east-1", MLBRIDGE_S3_ENDPOINT: endpoint },
    stop,
    start,
    async close() {
      client.destroy();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Where Debian puts nginx (scripts/setup.sh installs nginx-light). */
export const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));

/**
 * nginx as a gRPC load balancer on a free loopback port, round-robin over
 * `upstreams` (host:port), retrying a request on the next replica when one
 * cannot be reached (grpc_next_upstream). Returns its address and a stop.
 */
export async function startBalancer(upstreams: string[]): Promise<{ address: string; stop(): Promise<void> }> {
  if (!NGINX) throw new Error("nginx is not installed (scripts/setup.sh installs nginx-light)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-nginx-"));
  const port = await freePort();
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream replicas {
${upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=2s;`).join("\n")}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port} http2;
    client_max_body_size 0;
    location / {
      grpc_pass grpc://replicas;
      grpc_next_upstream error timeout non_idempotent;
      grpc_next_upstream_tries 3;
      grpc_connect_timeout 1s;
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
    }
  }
}
`,
  );
  const child = spawn(NGINX, ["-c", conf, "-e", path.join(dir, "error.log")], { stdio: "ignore" });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, "127.0.0.1", () => {
        sock.destroy();
        resolve(true);
      });
      sock.on("error", () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${readFileSync(path.join(dir, "error.log"), "utf8")}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
