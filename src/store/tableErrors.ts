// Recognises the exact Table Storage failures the stores expect, by status and service error code.

function statusCodeOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null
    ? (error as { statusCode?: number }).statusCode
    : undefined;
}

/** The service's error code (`EntityAlreadyExists`, …): data-tables puts it in `code` or in the OData error body. */
function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; details?: { odataError?: { code?: unknown } } };
  if (typeof e.code === 'string') return e.code;
  const code = e.details?.odataError?.code;
  return typeof code === 'string' ? code : undefined;
}

function isError(error: unknown, status: number, codes: string[]): boolean {
  if (statusCodeOf(error) !== status) return false;
  const code = errorCodeOf(error);
  // Some paths (e.g. a 404 on a HEAD-like read) carry no body and so no code: the status is then enough.
  return code === undefined || codes.includes(code);
}

export const isNotFound = (e: unknown) =>
  isError(e, 404, ['ResourceNotFound', 'EntityNotFound', 'TableNotFound']);
export const isEntityExists = (e: unknown) => isError(e, 409, ['EntityAlreadyExists']);
export const isConditionFailed = (e: unknown) =>
  isError(e, 412, ['UpdateConditionNotSatisfied', 'ConditionNotMet']);
export const isTableExists = (e: unknown) => isError(e, 409, ['TableAlreadyExists']);
