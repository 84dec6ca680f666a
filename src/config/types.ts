import { type TSchema, Type } from '@sinclair/typebox';

/** A name that is safe as one MQTT topic level and as a file name: no '/', '+', '#', spaces. */
export const TopicSafeId = (description: string) =>
  Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description });

/**
 * A byte size: an integer number of bytes, or a string such as "512MiB" or "2 GB".
 * Values are normalised to integers by `parseSize` after validation.
 */
export const Size = (description: string, defaultValue: string | number) =>
  Type.Unsafe<number | string>({
    type: ['integer', 'string'],
    minimum: 0,
    pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$',
    default: defaultValue,
    description,
  });

const UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  KiB: 1024,
  MB: 1e6,
  MiB: 1024 ** 2,
  GB: 1e9,
  GiB: 1024 ** 3,
  TB: 1e12,
  TiB: 1024 ** 4,
};

export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$/.exec(value.trim());
  if (!m) throw new Error(`not a size: ${value}`);
  const unit = UNITS[m[2] || 'B'];
  if (unit === undefined) throw new Error(`unknown size unit in ${value}`);
  return Math.floor(Number(m[1]) * unit);
}

/** An integer-valued enum; TypeBox literal unions give poor validation messages. */
export const IntEnum = <T extends number>(values: readonly T[], defaultValue: T, description: string) =>
  Type.Unsafe<T>({ type: 'integer', enum: [...values], default: defaultValue, description });

export const StringEnum = <T extends string>(values: readonly T[], defaultValue: T, description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], default: defaultValue, description });

/** A nested object whose every property has a default, so the whole object may be left out. */
export const Section = <T extends Parameters<typeof Type.Object>[0]>(
  properties: T,
  description: string,
): ReturnType<typeof Type.Object<T>> =>
  Type.Object(properties, { additionalProperties: false, default: {}, description });

export type { TSchema };

/**
 * A property with a default may be left out of a config file. TypeBox lists it as required (so the
 * static type, after defaults, has it); this copy of the schema drops it from `required`
 * everywhere, for validation and for the published JSON Schema.
 */
export function relaxDefaults<S>(schema: S): S {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v);
    const props = out.properties as Record<string, { default?: unknown }> | undefined;
    if (Array.isArray(out.required) && props) {
      const required = (out.required as string[]).filter((name) => props[name]?.default === undefined);
      if (required.length > 0) out.required = required;
      else delete out.required;
    }
    return out;
  };
  return walk(schema) as S;
}
