/** The gRPC quote app's proto file is in neither place it is looked for. */
export class QuoteProtoMissingError extends Error {
  readonly code = 'QUOTE_PROTO_MISSING';
}
