// Failure modes of the timeline, each with a stable code.

/** Timeline data that does not match the model of timeline/model.ts (a bug, or a foreign file). */
export class TimelineDataError extends Error {
  readonly code = 'timeline-invalid';
  constructor(detail: string) {
    super(`timeline data is invalid: ${detail}`);
    this.name = 'TimelineDataError';
  }
}

/** No stored facts for a rollout id (exit 2 in the CLI, 404 in the API). */
export class TimelineNotFoundError extends Error {
  readonly code = 'timeline-not-found';
  constructor(readonly rolloutId: string) {
    super(`no rollout with id ${JSON.stringify(rolloutId)} to draw`);
    this.name = 'TimelineNotFoundError';
  }
}

/** A timeline could not be fetched from a remote collector. */
export class TimelineFetchError extends Error {
  readonly code = 'timeline-fetch';
  constructor(url: string, detail: string) {
    super(`cannot fetch the timeline from ${url}: ${detail}`);
    this.name = 'TimelineFetchError';
  }
}
