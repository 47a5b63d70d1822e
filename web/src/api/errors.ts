// Errors as the edge sends them: an HTTP status with a google.rpc.Status body whose details
// may name bad fields (BadRequest), a taken resource (ResourceInfo, on 409), and a
// `retry-after` header on 429 and 503.

export interface FieldViolation {
  field: string;
  description: string;
}

export interface ApiError {
  status: number;
  message: string;
  fieldViolations: FieldViolation[];
  /** The field a 409 says is taken (`username`, `email`). */
  taken?: string;
  /** Seconds to wait before retrying (429, 503). */
  retryAfterSecs?: number;
}

interface RpcStatus {
  code?: number;
  message?: string;
  details?: Array<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function parseApiError(status: number, body: unknown, retryAfter: string | null): ApiError {
  const rpc: RpcStatus = isRecord(body) ? (body as RpcStatus) : {};
  const error: ApiError = {
    status,
    message: typeof rpc.message === 'string' && rpc.message !== '' ? rpc.message : fallback(status),
    fieldViolations: [],
  };
  for (const detail of rpc.details ?? []) {
    const type = String(detail['@type'] ?? '');
    if (type.endsWith('google.rpc.BadRequest') && Array.isArray(detail.fieldViolations)) {
      for (const violation of detail.fieldViolations) {
        if (isRecord(violation)) {
          error.fieldViolations.push({
            field: String(violation.field ?? ''),
            description: String(violation.description ?? ''),
          });
        }
      }
    }
    if (type.endsWith('google.rpc.ResourceInfo') && typeof detail.resourceName === 'string') {
      error.taken = detail.resourceName;
    }
  }
  const seconds = retryAfter === null ? NaN : Number.parseInt(retryAfter, 10);
  if (Number.isFinite(seconds) && seconds >= 0) {
    error.retryAfterSecs = seconds;
  }
  return error;
}

function fallback(status: number): string {
  if (status === 0) return 'The server cannot be reached. Check the connection and try again.';
  if (status === 401) return 'Please sign in again.';
  if (status === 429) return 'Too many requests. Wait a moment and try again.';
  if (status >= 500) return 'Something went wrong on our side. Try again.';
  return `The request failed (${status}).`;
}

/** The violations of `field`, for the form control that shows it. */
export function violationsOf(error: ApiError | undefined, field: string): string[] {
  return (error?.fieldViolations ?? [])
    .filter((v) => v.field === field)
    .map((v) => v.description);
}
