/**
 * A small JSON Schema (2020-12) checker for the subset `docs/events/job-event.schema.json` uses:
 * `$ref` (local), `type`, `properties`, `required`, `additionalProperties: false`, `enum`,
 * `const`, `pattern`, `minimum`, `minLength`, `items`, `format: date-time`, `oneOf`, `allOf`.
 * Zod's `fromJSONSchema` ignores `additionalProperties` and branch `required`s under `oneOf`, and
 * a full validator (ajv) would be a dependency for one test; an unsupported keyword throws, so
 * the schema cannot silently outgrow this checker.
 */

type Schema = Readonly<Record<string, unknown>>;

const SUPPORTED = new Set([
  '$schema',
  '$id',
  '$defs',
  '$ref',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'enum',
  'const',
  'pattern',
  'minimum',
  'minLength',
  'items',
  'format',
  'oneOf',
  'allOf',
]);

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Problems of `value` against `root` (empty when it conforms), each as `<path>: <problem>`. */
export function checkJsonSchema(root: Schema, value: unknown): string[] {
  const problems: string[] = [];
  check(root, root, value, '$', problems);
  return problems;
}

function check(root: Schema, schema: Schema, value: unknown, path: string, problems: string[]): void {
  for (const keyword of Object.keys(schema)) {
    if (!SUPPORTED.has(keyword))
      throw new Error(`json-schema-check does not support "${keyword}" (at ${path})`);
  }
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    check(root, resolveRef(root, ref), value, path, problems);
  }
  const type = schema.type;
  if (typeof type === 'string' && !hasType(value, type)) {
    problems.push(`${path}: expected ${type}, got ${JSON.stringify(value)}`);
    return;
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    problems.push(`${path}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  }
  if (
    Array.isArray(schema.enum) &&
    !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))
  ) {
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      problems.push(`${path}: "${value}" does not match ${schema.pattern}`);
    }
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) {
      problems.push(`${path}: shorter than ${schema.minLength}`);
    }
    if (schema.format === 'date-time' && (!ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value)))) {
      problems.push(`${path}: "${value}" is not a date-time`);
    }
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
    problems.push(`${path}: ${value} is below ${schema.minimum}`);
  }
  if (Array.isArray(value) && isSchema(schema.items)) {
    const items = schema.items;
    for (const [index, item] of value.entries()) check(root, items, item, `${path}[${index}]`, problems);
  }
  if (isObject(value)) checkObject(root, schema, value, path, problems);
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf) if (isSchema(part)) check(root, part, value, path, problems);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = schema.oneOf.filter((option) => {
      const branch: string[] = [];
      if (isSchema(option)) check(root, option, value, path, branch);
      return isSchema(option) && branch.length === 0;
    });
    if (matching.length !== 1) {
      problems.push(`${path}: matches ${matching.length} of the oneOf options, not exactly one`);
    }
  }
}

function checkObject(
  root: Schema,
  schema: Schema,
  value: Readonly<Record<string, unknown>>,
  path: string,
  problems: string[],
): void {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  for (const name of Array.isArray(schema.required) ? schema.required : []) {
    if (typeof name === 'string' && !(name in value)) problems.push(`${path}: missing "${name}"`);
  }
  for (const [name, child] of Object.entries(value)) {
    const property = properties[name];
    if (isSchema(property)) check(root, property, child, `${path}.${name}`, problems);
    else if (schema.additionalProperties === false) problems.push(`${path}: unexpected "${name}"`);
  }
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`json-schema-check resolves local references only, not ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = isObject(node) ? node[part] : undefined;
  if (!isSchema(node)) throw new Error(`unresolved reference ${ref}`);
  return node;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
    case 'boolean':
      return typeof value === type;
    case 'null':
      return value === null;
    default:
      throw new Error(`json-schema-check does not know type ${type}`);
  }
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isSchema = isObject;
