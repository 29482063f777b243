import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { formatHostPort, type HostPort } from '../lib/values.js';
import { AgentPortInUseError } from './errors.js';

// Listening on and closing the agent's two ports (traffic and admin).

/** Listens on hp; rejects with AgentPortInUseError naming `setting` if the address is taken. */
export function listenOn(server: Server, hp: HostPort, setting: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new AgentPortInUseError(setting, formatHostPort(hp), err.code ?? err.message));
    };
    server.once('error', onError);
    server.listen(hp.port, hp.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops listening and resolves once every connection ended; idle HTTP connections close now. */
export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}
