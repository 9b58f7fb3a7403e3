// The real scale-out peers, started on loopback for tests and benchmarks:
//   - versitygw (Apache-2.0), an S3-compatible server, built by scripts/setup.sh with
//     `go install` into ~/.cache/mlbridge/bin (outside the clone);
//   - nginx (Debian's nginx-light) as a gRPC load balancer.
// Used by packages/server/test/shared-store.test.ts and bench scenario 12.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** Where setup.sh puts versitygw (MLBRIDGE_VERSITYGW overrides). */
export const VERSITYGW = process.env.MLBRIDGE_VERSITYGW ?? path.join(os.homedir(), ".cache", "mlbridge", "bin", "versitygw");
export const haveVersitygw = existsSync(VERSITYGW);
/** Where Debian puts nginx (setup.sh installs nginx-light). */
export const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));

export const ACCESS_KEY = "mlbridge-test";
export const SECRET_KEY = "mlbridge-test-secret";

/** A free loopback TCP port. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` accepts connections; rejects if `child` exits first or after `ms`. */
async function listening(port, child, what, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const up = await new Promise((resolve) => {
      const sock = net.connect(port, "127.0.0.1", () => {
        sock.destroy();
        resolve(true);
      });
      sock.on("error", () => resolve(false));
    });
    if (up) return;
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not start in ${ms / 1000} s`);
}

/** Stops a child process (SIGKILL or SIGTERM) and waits for its exit. */
async function stopChild(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await exited;
}

/**
 * versitygw on a free loopback port over a temporary folder, with `bucket` made.
 * Returns { endpoint, env (for an mlbridge server: credentials, region, endpoint), stop(), start(), close() };
 * stop/start keep the data (an outage), close removes it.
 */
export async function startObjectStore(bucket) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-s3-"));
  const data = path.join(dir, "data");
  const versions = path.join(dir, "versions");
  mkdirSync(data);
  mkdirSync(versions);
  // The bucket is a folder of the posix backend.
  mkdirSync(path.join(data, bucket));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child;
  const start = async () => {
    child = spawn(VERSITYGW, ["--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", `127.0.0.1:${port}`, "posix", "--versioning-dir", versions, data], {
      stdio: "ignore",
    });
    await listening(port, child, "versitygw");
  };
  await start();
  return {
    endpoint,
    env: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: "us-east-1", MLBRIDGE_S3_ENDPOINT: endpoint },
    stop: () => stopChild(child, "SIGKILL"),
    start,
    async close() {
      await stopChild(child, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * nginx as a gRPC load balancer on a free loopback port, round-robin over `upstreams`
 * (host:port), passing a request to the next replica when one cannot be reached
 * (grpc_next_upstream). Returns { address, stop() }.
 */
export async function startBalancer(upstreams) {
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
  try {
    await listening(port, child, "nginx");
  } catch (err) {
    throw new Error(`${err.message}: ${existsSync(path.join(dir, "error.log")) ? readFileSync(path.join(dir, "error.log"), "utf8") : ""}`);
  }
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      await stopChild(child, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
