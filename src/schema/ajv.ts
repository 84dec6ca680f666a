import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats ships CommonJS with a default export; under NodeNext the callable sits on .default.
type AddFormats = (ajv: Ajv) => Ajv;
const formatsExport = addFormatsModule as unknown as AddFormats & { default?: AddFormats };
const addFormats: AddFormats = formatsExport.default ?? formatsExport;

export function createAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ allowUnionTypes: true, strict: true, ...options });
  addFormats(ajv);
  return ajv;
}

export interface SchemaIssue {
  /** JSON pointer of the offending value, '/' for the root. */
  path: string;
  message: string;
}

/** Turns ajv's errors into one line per problem, each anchored at the value it is about. */
export function describeErrors(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    // if/then failures repeat the inner error; the inner one is the useful line.
    if (e.keyword === 'if') continue;
    const base = prefix + e.instancePath;
    let path = base || '/';
    let message = e.message ?? 'is invalid';
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties':
        message = `unknown key "${String(params.additionalProperty)}"`;
        break;
      case 'required':
        path = `${base}/${String(params.missingProperty)}`;
        message = 'is required';
        break;
      case 'enum':
        message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'const':
        message = `must be ${JSON.stringify(params.allowedValue)}`;
        break;
      case 'maxProperties':
        message =
          params.limit === 1
            ? 'must have exactly one of its keys'
            : `must have at most ${String(params.limit)} keys`;
        break;
      case 'minProperties':
        message = `must have at least ${String(params.limit)} key${params.limit === 1 ? '' : 's'}`;
        break;
    }
    const line = `${path}: ${message}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push({ path, message });
  }
  return out;
}

export function formatIssues(issues: readonly SchemaIssue[]): string {
  return issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
}
