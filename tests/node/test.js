// node-postgres (pg) against madang. Usage: node test.js <connection string>
// Prints "OK <step>" per passed step; exits 1 if any step failed.
'use strict';
const assert = require('assert');
const { Client } = require('pg');

const connectionString = process.argv[2];
if (!connectionString) {
  console.error('usage: node test.js <connection string>');
  process.exit(2);
}

let failures = 0;

async function step(name, fn) {
  const client = new Client({ connectionString, connectionTimeoutMillis: 10000 });
  await client.connect();
  try {
    await fn(client);
    console.log('OK ' + name);
  } catch (e) {
    failures++;
    console.log('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e) + (e && e.code ? ' code=' + e.code : ''));
  } finally {
    await client.end().catch(() => {});
  }
}

function uniq(p) {
  return p + '_' + Math.random().toString(16).slice(2, 10);
}

(async () => {
  await step('simple', async (c) => {
    const r = await c.query('SELECT count(*) AS n FROM customers');
    assert.strictEqual(r.rows[0].n, '10000'); // int8 comes back as a string in pg
    assert.strictEqual(r.fields[0].name, 'n');
    assert.strictEqual(r.fields[0].dataTypeID, 20);
  });

  await step('parameterized', async (c) => {
    const r = await c.query('SELECT id, name, email FROM customers WHERE id = $1', [42]);
    assert.strictEqual(r.rowCount, 1);
    assert.strictEqual(Number(r.rows[0].id), 42);
    assert.strictEqual(typeof r.rows[0].name, 'string');
    const r2 = await c.query('SELECT count(*)::int AS n FROM customers WHERE id BETWEEN $1 AND $2', [100, 199]);
    assert.strictEqual(r2.rows[0].n, 100);
    // same statement many times, named (server-side prepared)
    for (let i = 1; i <= 10; i++) {
      const r3 = await c.query({ name: 'by_id', text: 'SELECT id FROM customers WHERE id = $1', values: [i] });
      assert.strictEqual(Number(r3.rows[0].id), i);
    }
  });

  await step('types_roundtrip', async (c) => {
    const t = uniq('node_types');
    await c.query(`CREATE TABLE ${t} (i int, b bigint, f double, n decimal(12,4), s varchar, ok boolean,
                   d date, ts timestamp, tz timestamptz, j json, u uuid, bl bytea)`);
    const ts = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const vals = [7, '9007199254740993', 2.5, '12345.6789', "it's \"q\" ünï ✓", true, '2024-02-29',
      '2024-02-29 12:34:56.789', ts, JSON.stringify({ a: [1, 2], b: 'x' }),
      '5d5b0a0e-6d1e-4a43-9d42-2a1e2b3c4d5e', Buffer.from([0, 1, 254, 255])];
    await c.query(`INSERT INTO ${t} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, vals);
    await c.query(`INSERT INTO ${t} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, Array(12).fill(null));
    const r = await c.query(`SELECT * FROM ${t} ORDER BY i NULLS LAST`);
    assert.strictEqual(r.rows.length, 2);
    const row = r.rows[0];
    assert.strictEqual(row.i, 7);
    assert.strictEqual(row.b, '9007199254740993');
    assert.strictEqual(row.f, 2.5);
    assert.strictEqual(row.n, '12345.6789');
    assert.strictEqual(row.s, vals[4]);
    assert.strictEqual(row.ok, true);
    assert.ok(row.d instanceof Date, 'date is a Date');
    assert.strictEqual(row.d.getFullYear(), 2024);
    assert.strictEqual(row.d.getMonth(), 1);
    assert.strictEqual(row.d.getDate(), 29);
    assert.ok(row.ts instanceof Date);
    assert.strictEqual(row.tz.getTime(), ts.getTime());
    assert.deepStrictEqual(typeof row.j === 'string' ? JSON.parse(row.j) : row.j, { a: [1, 2], b: 'x' });
    assert.strictEqual(row.u, '5d5b0a0e-6d1e-4a43-9d42-2a1e2b3c4d5e');
    assert.ok(Buffer.isBuffer(row.bl), 'bytea is a Buffer: ' + typeof row.bl);
    assert.deepStrictEqual([...row.bl], [0, 1, 254, 255]);
    for (const [k, v] of Object.entries(r.rows[1])) assert.strictEqual(v, null, k);
    await c.query(`DROP TABLE ${t}`);
  });

  await step('array_param', async (c) => {
    // pg sends JS arrays as PostgreSQL array literals ('{"1","2","3"}') with an unspecified type
    const t = uniq('node_arr');
    await c.query(`CREATE TABLE ${t} (arr int[], tags text[])`);
    await c.query(`INSERT INTO ${t} VALUES ($1, $2)`, [[1, 2, 3], ['a b', 'c,d', 'e"f']]);
    const r = await c.query(`SELECT arr, tags FROM ${t}`);
    assert.deepStrictEqual(r.rows[0].arr, [1, 2, 3]);
    assert.deepStrictEqual(r.rows[0].tags, ['a b', 'c,d', 'e"f']);
    const r2 = await c.query('SELECT count(*)::int AS n FROM customers WHERE id = ANY($1::int[])', [[1, 2, 3]]);
    assert.strictEqual(r2.rows[0].n, 3);
    await c.query(`DROP TABLE ${t}`);
  });

  await step('error_42P01', async (c) => {
    let err = null;
    try {
      await c.query('SELECT * FROM no_such_table_node');
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'expected an error');
    assert.strictEqual(err.code, '42P01');
    assert.strictEqual(err.severity, 'ERROR');
    let err2 = null;
    try {
      await c.query('SELECT * FROM no_such_table_node WHERE x = $1', [1]);
    } catch (e) {
      err2 = e;
    }
    assert.ok(err2 && err2.code === '42P01', 'extended protocol error code ' + (err2 && err2.code));
    // the connection still works
    const r = await c.query('SELECT 1 AS one');
    assert.strictEqual(r.rows[0].one, 1);
  });

  await step('transaction', async (c) => {
    const t = uniq('node_tx');
    await c.query(`CREATE TABLE ${t} (id int)`);
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${t} VALUES ($1)`, [1]);
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${t} VALUES ($1)`, [2]);
    await c.query('COMMIT');
    const r = await c.query(`SELECT array_agg(id) AS ids FROM ${t}`);
    assert.deepStrictEqual(r.rows[0].ids, [2]);
    await c.query('BEGIN');
    await assert.rejects(c.query('SELECT * FROM nope_node_tx'), (e) => e.code === '42P01');
    await assert.rejects(c.query('SELECT 1'), (e) => e.code === '25P02');
    await c.query('ROLLBACK');
    await c.query(`DROP TABLE ${t}`);
  });

  await step('rowmode_array_and_many_rows', async (c) => {
    const r = await c.query({ text: 'SELECT id, price FROM trades WHERE id <= $1 ORDER BY id', values: [50000], rowMode: 'array' });
    assert.strictEqual(r.rows.length, 50000);
    assert.strictEqual(Number(r.rows[49999][0]), 50000);
    assert.match(r.rows[0][1], /^\d+\.\d{2}$/);
  });

  if (failures) {
    console.log('FAILURES ' + failures);
    process.exit(1);
  }
  console.log('ALL OK');
})().catch((e) => {
  console.log('FATAL ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
