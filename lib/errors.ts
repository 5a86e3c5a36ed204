/** Errors the service layer throws; route handlers and server actions turn them into 4xx answers. */

export interface FieldIssue {
  /** Dotted path of the field, e.g. "schedule.expression"; "" for the body as a whole. */
  path: string;
  message: string;
}

const BRANDS = Symbol.for('cronplane.errorBrands');
type Branded = { [BRANDS]?: readonly string[] };

/** The `brand` of each class in the chain from `ctor` up to BrandedError. */
function brandsOf(ctor: unknown): string[] {
  const brands: string[] = [];
  for (let c = ctor; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, 'brand')) brands.push(String((c as unknown as { brand: unknown }).brand));
  }
  return brands;
}

/**
 * The one base of the app's own errors (AppError and its subclasses, the store's NameTakenError and
 * UsernameTakenError). Next bundles a module once per entry (instrumentation, each route) inside one process: the
 * store is opened by the instrumentation bundle, so its errors are instances of another copy of these classes than
 * the one a route handler imports. `instanceof` therefore checks a brand, not class identity. Subclasses declare
 * their own `static readonly brand`; one without keeps plain identity checks.
 */
export class BrandedError extends Error {
  static readonly brand: string = 'BrandedError';

  static [Symbol.hasInstance](value: unknown): boolean {
    if (!Object.prototype.hasOwnProperty.call(this, 'brand')) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof Error && ((value as Branded)[BRANDS]?.includes(this.brand) ?? false);
  }

  constructor(message: string) {
    super(message);
    const brands = brandsOf(new.target);
    // The class's own brand when it declares one (the same word as its name, which a minifier may shorten).
    this.name = Object.prototype.hasOwnProperty.call(new.target, 'brand') ? brands[0]! : new.target.name;
    (this as Branded)[BRANDS] = brands;
  }
}

/** An error the service layer throws, with the HTTP status it becomes. */
export class AppError extends BrandedError {
  static readonly brand: string = 'AppError';

  constructor(
    message: string,
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503,
  ) {
    super(message);
  }
}

export class ValidationError extends AppError {
  static readonly brand: string = 'ValidationError';

  constructor(
    readonly issues: FieldIssue[],
    message = 'invalid input',
  ) {
    super(message, 400);
  }
}

export class NotFoundError extends AppError {
  static readonly brand: string = 'NotFoundError';

  constructor(what: string) {
    super(`${what} not found`, 404);
  }
}

export class ConflictError extends AppError {
  static readonly brand: string = 'ConflictError';

  constructor(message: string) {
    super(message, 409);
  }
}

export class UnavailableError extends AppError {
  static readonly brand: string = 'UnavailableError';

  constructor(message: string) {
    super(message, 503);
  }
}

/** Converts zod issues to the API's flat field issues. */
export function toFieldIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
