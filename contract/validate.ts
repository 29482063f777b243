// The validating half of the event contract (docs/architecture.md §3): the zod schemas of every
// event's data and the envelope functions that use them (decode, validate, create). The collector
// and the probe load it; the agent never does (it would cost ~14 MB of zod in every sidecar).
// Everything zod-free is exported by contract/index.ts instead; no name is exported from both.
export {
  createEvent,
  createEventSequencer,
  decodeEvent,
  jsonDepth,
  MAX_EVENT_DEPTH,
  validateEvent,
} from './envelope.js';
export {
  dataSchemas,
  type EventData,
  type PhaseCounts,
  phaseSchema,
} from './events.js';
