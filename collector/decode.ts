import type { JsMsg } from '@nats-io/jetstream';
import { type AnyEvent, InvalidSubjectError, parseSubject, type SubjectParts } from '../contract/index.js';
import { decodeEvent } from '../contract/validate.js';

// A message of the stream as an event: decoded and validated by the contract, and its subject
// checked against the event it carries. Shared by the durable consumer and the replays.

/** An event and its wire JSON, as the message carried it. */
export interface DecodedMessage {
  readonly event: AnyEvent;
  readonly raw: string;
}

// Subjects repeat (one per pod and kind): parsing each once saves real time at high rates.
const SUBJECT_CACHE_MAX = 10_000;

/**
 * A decoder for messages under subject root `root`. It throws the contract's ContractError
 * (InvalidSubjectError when the subject names another namespace, workload, pod or kind).
 */
export function createMessageDecoder(root: string): (m: JsMsg) => DecodedMessage {
  const cache = new Map<string, SubjectParts>();
  return (m) => {
    const raw = m.string();
    const event = decodeEvent(raw);
    let parts = cache.get(m.subject);
    if (!parts) {
      parts = parseSubject(m.subject, root);
      if (cache.size >= SUBJECT_CACHE_MAX) cache.clear();
      cache.set(m.subject, parts);
    }
    if (
      parts.kind !== event.kind ||
      parts.namespace !== event.namespace ||
      parts.workload !== event.workload ||
      parts.pod !== event.pod
    ) {
      throw new InvalidSubjectError('subject', `${m.subject} does not match the event it carries`);
    }
    return { event, raw };
  };
}
