// Shared by the browser form and the server action (no server-only): both must read the payload
// schema the same way, the browser to draw fields, the server to turn FormData back into a payload.

/** The part of JSON Schema that z.toJSONSchema emits for our payload schemas. */
export interface JsonSchemaNode {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: JsonSchemaNode | boolean;
  items?: JsonSchemaNode;
}

export type PayloadFieldKind = 'string' | 'text' | 'enum' | 'number' | 'integer' | 'boolean' | 'record' | 'list' | 'json';

export interface PayloadField {
  name: string;
  label: string;
  description: string | null;
  kind: PayloadFieldKind;
  required: boolean;
  options: string[];
  defaultValue: unknown;
  min: number | null;
  max: number | null;
  format: string | null;
}

/** Strings longer than this get a textarea: bodies and messages, not URLs. */
const TEXTAREA_OVER = 2048;

/** Words that read wrong in sentence case. */
const ACRONYMS: Record<string, string> = { url: 'URL', id: 'ID', http: 'HTTP', json: 'JSON' };

function humanize(name: string): string {
  const acronym = ACRONYMS[name.toLowerCase()];
  if (acronym) return acronym;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function kindOf(node: JsonSchemaNode): PayloadFieldKind {
  const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
  if (node.enum && node.enum.every((v) => typeof v === 'string')) return 'enum';
  switch (type) {
    case 'string':
      return (node.maxLength ?? Infinity) > TEXTAREA_OVER ? 'text' : 'string';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      // A string-to-string map (headers): edited as "Key: value" lines.
      return typeof node.additionalProperties === 'object' && !node.properties ? 'record' : 'json';
    case 'array':
      // A list of names (secret headers): edited as one comma-separated line.
      return node.items?.type === 'string' ? 'list' : 'json';
    default:
      return 'json';
  }
}

/** One form field per top-level property of the payload schema, in schema order. */
export function payloadFields(schema: JsonSchemaNode): PayloadField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, node]) => ({
    name,
    label: humanize(name),
    description: node.description ?? null,
    kind: kindOf(node),
    // A field with a default may be left empty: the schema fills it in.
    required: required.has(name) && node.default === undefined,
    options: (node.enum ?? []).map(String),
    defaultValue: node.default,
    min: node.minimum ?? null,
    max: node.maximum ?? null,
    format: node.format ?? null,
  }));
}

/** A payload value as the form shows it (text inputs hold strings; checkboxes hold booleans). */
export function toFieldValue(field: PayloadField, value: unknown): string | boolean {
  if (field.kind === 'boolean') return value === true;
  if (value === undefined || value === null) return '';
  if (field.kind === 'record' && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join('\n');
  }
  if (field.kind === 'list' && Array.isArray(value)) return value.map(String).join(', ');
  if (field.kind === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}

export interface ParsedPayload {
  payload: Record<string, unknown>;
  /** Problems found before the schema sees the value (a header line without a colon, bad JSON). */
  issues: Array<{ path: string; message: string }>;
}

/**
 * Turns the submitted field strings back into a payload. Empty optional fields are left out so the
 * schema's defaults apply; numbers that do not parse are passed on as text so the schema reports them.
 */
export function parsePayloadFields(fields: PayloadField[], read: (name: string) => string | null): ParsedPayload {
  const payload: Record<string, unknown> = {};
  const issues: ParsedPayload['issues'] = [];
  for (const field of fields) {
    const raw = read(field.name);
    if (field.kind === 'boolean') {
      payload[field.name] = raw === 'on' || raw === 'true';
      continue;
    }
    const text = raw ?? '';
    if (text.trim() === '') {
      // A required string stays present and empty so the error names the field ("message is required").
      if (field.required && (field.kind === 'string' || field.kind === 'text')) payload[field.name] = '';
      continue;
    }
    switch (field.kind) {
      case 'number':
      case 'integer': {
        const n = Number(text.trim());
        payload[field.name] = Number.isFinite(n) ? n : text;
        break;
      }
      case 'record': {
        const record: Record<string, string> = {};
        text.split(/\r?\n/).forEach((line, i) => {
          if (line.trim() === '') return;
          const colon = line.indexOf(':');
          if (colon <= 0) {
            issues.push({ path: `payload.${field.name}`, message: `line ${i + 1}: write "Name: value"` });
            return;
          }
          record[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        });
        payload[field.name] = record;
        break;
      }
      case 'list':
        payload[field.name] = text
          .split(/[,\n]/)
          .map((item) => item.trim())
          .filter((item) => item !== '');
        break;
      case 'json':
        try {
          payload[field.name] = JSON.parse(text);
        } catch {
          issues.push({ path: `payload.${field.name}`, message: 'not valid JSON' });
        }
        break;
      default:
        payload[field.name] = text;
    }
  }
  return { payload, issues };
}
