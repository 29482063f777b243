import type { EntryKind } from './entry-activity.js';
import { createHaproxyBackend } from './entry-haproxy.js';
import { createManagedEntrypoint } from './entry-managed.js';
import { createNginxBackend } from './entry-nginx.js';
import { createEntrypoint, type Entrypoint, type EntrypointOptions } from './entrypoint.js';

/**
 * The entry point of a given kind: drainwatch's own (`local`), or a real nginx or HAProxy process
 * of the rehearsal's own. All three learn of endpoint changes after the same propagation delays.
 * Throws ServerBinaryMissingError (lib/servers.ts) at start when the balancer is not installed.
 */
export function createEntry(kind: EntryKind, options: EntrypointOptions): Entrypoint {
  const managed = { propagation: options.propagation, rng: options.rng };
  switch (kind) {
    case 'nginx':
      return createManagedEntrypoint(createNginxBackend({ balance: options.balance }), managed);
    case 'haproxy':
      return createManagedEntrypoint(createHaproxyBackend({ balance: options.balance }), managed);
    default:
      return createEntrypoint(options);
  }
}
