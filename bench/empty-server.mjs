#!/usr/bin/env node
// The transport ceiling: a @grpc/grpc-js server exposing mlbridge.v1.XgboostService/Predict with the
// same request/response shapes and server options as mlbridge, whose handler does no work: it
// returns a precomputed response (the one mlbridge gives for the iris row). Prints `PORT <n>`.
import { grpc, gen_ } from "./lib.mjs";

const response = JSON.parse(process.argv[2] ?? '{"rows":1,"cols":3,"values":[0.9,0.05,0.05],"classNames":["a"]}');
const server = new grpc.Server({ "grpc.max_receive_message_length": 64 << 20, "grpc.max_send_message_length": 64 << 20 });
server.addService(gen_.xgb.XgboostServiceService, {
  predict: (_call, cb) => cb(null, response),
  train: (call) => call.end(),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`PORT ${port}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
