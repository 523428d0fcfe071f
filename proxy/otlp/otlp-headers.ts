/**
 * Header checks of OTLP/HTTP `POST /v1/metrics`: binary protobuf or the JSON mapping,
 * uncompressed or gzip, as the OTLP/HTTP spec allows. Anything else is a 415, before any
 * of the body is read.
 */

import { IngestError } from '../server/ingest-error.js';
import type { BodyEncoding, IngestFormat } from '../wire/ingest-format.js';

/** The route of OTLP/HTTP metrics. */
export const OTLP_METRICS_PATH = '/v1/metrics';

/** The format and encoding of an acceptable OTLP/HTTP request, or the error to answer. */
export function checkOtlpHeaders(
  contentType: string,
  contentEncoding: string,
): { format: IngestFormat; encoding: BodyEncoding } | IngestError {
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  let format: IngestFormat;
  if (mediaType === 'application/x-protobuf') format = 'otlp-proto';
  else if (mediaType === 'application/json') format = 'otlp-json';
  else {
    return new IngestError(
      'unsupported_media_type',
      `unsupported Content-Type ${JSON.stringify(contentType)}: OTLP/HTTP takes ` +
        'application/x-protobuf or application/json',
    );
  }
  const encoding = contentEncoding.trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return { format, encoding: 'identity' };
  if (encoding === 'gzip') return { format, encoding: 'gzip' };
  return new IngestError(
    'unsupported_encoding',
    `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}: OTLP/HTTP takes gzip or none`,
  );
}
