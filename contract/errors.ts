// Every way an event can be refused, one class each, with a stable `code` that the collector
// uses as the `reason` label of drainwatch_events_invalid_total.

export type ContractErrorCode =
  | 'malformed-envelope'
  | 'unknown-type'
  | 'unsupported-version'
  | 'oversize'
  | 'too-deep'
  | 'invalid-data'
  | 'invalid-subject'
  | 'not-json';

export abstract class ContractError extends Error {
  abstract readonly code: ContractErrorCode;
  /** The envelope or data field at fault, as a dotted path (`data.durationMs`), or '' for the whole message. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = new.target.name;
    this.field = field;
  }
}

export class NotJsonError extends ContractError {
  readonly code = 'not-json' as const;
}

export class MalformedEnvelopeError extends ContractError {
  readonly code = 'malformed-envelope' as const;
}

export class UnknownEventTypeError extends ContractError {
  readonly code = 'unknown-type' as const;
}

export class UnsupportedVersionError extends ContractError {
  readonly code = 'unsupported-version' as const;
}

export class OversizeEventError extends ContractError {
  readonly code = 'oversize' as const;
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super('', `event is ${size} bytes, over the ${limit}-byte limit`);
    this.size = size;
    this.limit = limit;
  }
}

export class TooDeepEventError extends ContractError {
  readonly code = 'too-deep' as const;
  readonly limit: number;

  constructor(limit: number) {
    super('', `event nests objects or arrays more than ${limit} deep`);
    this.limit = limit;
  }
}

export class InvalidEventDataError extends ContractError {
  readonly code = 'invalid-data' as const;
}

export class InvalidSubjectError extends ContractError {
  readonly code = 'invalid-subject' as const;
}
