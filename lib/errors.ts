/** Errors the service layer throws; route handlers and server actions turn them into 4xx answers. */

export interface FieldIssue {
  /** Dotted path of the field, e.g. "schedule.expression"; "" for the body as a whole. */
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(
    readonly issues: FieldIssue[],
    message = 'invalid input',
  ) {
    super(message, 400);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(`${what} not found`, 404);
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(message, 409);
  }
}

export class UnavailableError extends AppError {
  constructor(message: string) {
    super(message, 503);
  }
}

/** Converts zod issues to the API's flat field issues. */
export function toFieldIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
