import type { EntryKind } from './entry-activity.js';
import { createHaproxyBackend } from './entry-haproxy.js';
import { createManagedEntrypoint } from './entry-managed.js';
import { createNginxBackend } from './entry-nginx.js';
import { createTcpEntrypoint } from './entry-tcp.js';
import { createEntrypoint, type Entrypoint, type EntrypointOptions } from './entrypoint.js';
import { LocalClusterConfigError } from './errors.js';

/** `http`: a reverse proxy balancing each request; `tcp`: each connection, bytes passed through (entry-tcp.ts). */
export const ENTRY_MODES = ['http', 'tcp'] as const;
export type EntryMode = (typeof ENTRY_MODES)[number];

/**
 * The entry point of a given kind: drainwatch's own (`local`), or a real nginx or HAProxy process
 * of the rehearsal's own. All three learn of endpoint changes after the same propagation delays.
 * Throws ServerBinaryMissingError (lib/servers.ts) at start when the balancer is not installed, and
 * LocalClusterConfigError for `tcp` mode with another kind than `local` (nginx's and HAProxy's
 * stream modes are not built) or with a balance that needs HTTP.
 */
export function createEntry(
  kind: EntryKind,
  options: EntrypointOptions,
  mode: EntryMode = 'http',
): Entrypoint {
  if (mode === 'tcp') {
    if (kind !== 'local')
      throw new LocalClusterConfigError(
        'entry',
        `per-connection (tcp) mode is built for the local entry point only, not ${kind}`,
      );
    return createTcpEntrypoint(options);
  }
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
