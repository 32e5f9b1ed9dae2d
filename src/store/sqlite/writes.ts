/**
 * Hand-prepared writes for the hot paths (a purchase, its carrier order and
 * its provisioning result), in place of drizzle's query builder, which spent
 * tens of microseconds assembling every statement (bench/NOTES.md). The SQL
 * is built once per table, column set and condition, and kept; values pass
 * through each column's own drizzle mapping (booleans to 0/1, ...), so what
 * is bound is exactly what the builder would have bound. As with the
 * builder, a field that is undefined is left out (the column's default on
 * insert, unchanged on update); null is NULL.
 */
import type Database from 'better-sqlite3';
import { getTableColumns, getTableName, type Column } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

interface TableInfo {
  name: string;
  /** [field, column] in the table's column order. */
  columns: Array<readonly [string, Column]>;
}

const tables = new WeakMap<SQLiteTable, TableInfo>();

function info(table: SQLiteTable): TableInfo {
  let t = tables.get(table);
  if (!t) {
    t = { name: getTableName(table), columns: Object.entries(getTableColumns(table)) };
    tables.set(table, t);
  }
  return t;
}

const toDriver = (col: Column, v: unknown): unknown => (v === null ? null : col.mapToDriverValue(v));

export class Writes {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** A statement for this SQL, prepared once. */
  stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  insert(table: SQLiteTable, row: object): Database.RunResult {
    const t = info(table);
    const names: string[] = [];
    const values: unknown[] = [];
    for (const [field, col] of t.columns) {
      const v = (row as Record<string, unknown>)[field];
      if (v === undefined) continue;
      names.push(`"${col.name}"`);
      values.push(toDriver(col, v));
    }
    return this.stmt(`INSERT INTO "${t.name}" (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(values);
  }

  /** UPDATE ... SET the defined fields of `patch` WHERE `where` (its `?` bound to `whereArgs`, as given). */
  update(table: SQLiteTable, patch: object, where: string, whereArgs: readonly unknown[]): Database.RunResult {
    const t = info(table);
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [field, col] of t.columns) {
      const v = (patch as Record<string, unknown>)[field];
      if (v === undefined) continue;
      sets.push(`"${col.name}" = ?`);
      values.push(toDriver(col, v));
    }
    if (sets.length === 0) throw new Error('No values to set'); // as drizzle's update().set({})
    for (const a of whereArgs) values.push(a);
    return this.stmt(`UPDATE "${t.name}" SET ${sets.join(', ')} WHERE ${where}`).run(values);
  }
}

const byDb = new WeakMap<Database.Database, Writes>();

/** The Writes of a connection (one per connection, so its statements are reused). */
export function writesOf(db: Database.Database): Writes {
  let w = byDb.get(db);
  if (!w) {
    w = new Writes(db);
    byDb.set(db, w);
  }
  return w;
}

/** `?, ?, ?` for n values. */
export const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
