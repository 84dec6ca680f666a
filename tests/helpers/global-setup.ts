import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rootPath } from '../../src/paths.js';

/**
 * Tests that kill the daemon run the built CLI (dist/), as systemd would. `npm test` builds first;
 * this covers a bare `npx vitest`.
 */
export default function setup(): void {
  if (!existsSync(rootPath('dist', 'src', 'cli', 'main.js'))) {
    execFileSync(
      process.execPath,
      [rootPath('node_modules', 'typescript', 'bin', 'tsc'), '-p', rootPath('tsconfig.build.json')],
      {
        stdio: 'inherit',
      },
    );
  }
}
