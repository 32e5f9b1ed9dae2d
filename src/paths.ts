/** Locations inside the project, the same whether running from src/ (tests) or dist/ (npm start). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const SQLITE_MIGRATIONS_DIR = join(PROJECT_ROOT, 'db', 'sqlite', 'migrations');
export const PG_MIGRATIONS_DIR = join(PROJECT_ROOT, 'db', 'pg', 'migrations');
export const INVENTORY_DIR = join(PROJECT_ROOT, 'fixtures', 'inventory');
