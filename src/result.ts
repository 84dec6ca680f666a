/** The outcome of a pure decoder: a value, or a typed reason it could not be produced. */
export type Result<T, E extends string> = { ok: true; value: T } | { ok: false; error: E; detail?: string };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const err = <E extends string>(error: E, detail?: string): { ok: false; error: E; detail?: string } =>
  detail === undefined ? { ok: false, error } : { ok: false, error, detail };
