import type { SchemaIssue } from '../schema/ajv.js';

export function printConfigIssues(source: string, issues: readonly SchemaIssue[]): void {
  const n = issues.length;
  process.stderr.write(`store-gateway: ${source} is invalid (${n} error${n === 1 ? '' : 's'}):\n`);
  for (const i of issues) process.stderr.write(`  ${i.path}: ${i.message}\n`);
}

export function fail(message: string): void {
  process.stderr.write(`store-gateway: ${message}\n`);
}
