// The gRPC app bench/agent.mjs measures against: one unary method (/bench.Bench/Echo) that returns
// the request message, on h2c (prior knowledge). Messages pass as raw bytes, so no .proto is needed.
import grpc from '@grpc/grpc-js';

const raw = (b) => b;
export const ECHO = {
  path: '/bench.Bench/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
};

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const server = new grpc.Server();
  server.addService({ Echo: ECHO }, { Echo: (call, cb) => cb(null, call.request) });
  server.bindAsync(
    `127.0.0.1:${process.env.PORT ?? 0}`,
    grpc.ServerCredentials.createInsecure(),
    (err, port) => {
      if (err) throw err;
      process.stdout.write(`listening ${port}\n`);
    },
  );
}
