/**
 * The scale-out peers (versitygw, nginx) for the shared-store tests: the
 * launchers live in scripts/lib/scale-out.mjs (bench scenario 12 uses them
 * too); this adds an S3 client on the object store for the tests' own reads and writes.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as peers from "../../../scripts/lib/scale-out.mjs";

export const { VERSITYGW, haveVersitygw, NGINX, startBalancer } = peers as {
  VERSITYGW: string;
  haveVersitygw: boolean;
  NGINX: string | undefined;
  startBalancer(upstreams: string[]): Promise<{ address: string; stop(): Promise<void> }>;
};

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
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"; // the SDK's Node 22 notice, once per test process otherwise
  const store = (await peers.startObjectStore(bucket)) as Omit<ObjectStore, "client">;
  const client = new S3Client({
    endpoint: store.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: store.env.AWS_ACCESS_KEY_ID, secretAccessKey: store.env.AWS_SECRET_ACCESS_KEY },
  });
  return {
    ...store,
    client,
    async close() {
      client.destroy();
      await store.close();
    },
  };
}
