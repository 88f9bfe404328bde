// Test support: stands where prisma-client-py expects Prisma's native query-engine binary.
//
// prisma-client-py 0.15 (venv: prisma/engine/_query.py, prisma/_builder.py) spawns
//   <PRISMA_QUERY_ENGINE_BINARY> -p PORT --enable-metrics --enable-raw-queries
// with PRISMA_DML_PATH (schema file), DATABASE_URL or OVERWRITE_DATASOURCES, and speaks Prisma's
// *GraphQL* engine protocol over HTTP (GET /status; POST / {query} or {batch, transaction};
// POST /transaction/start, /transaction/<id>/commit|rollback, header X-transaction-id).
// No native engine can be installed here, but npm has the same engine commit (393aa359) compiled
// to WebAssembly (@prisma/query-engine-wasm), which speaks only Prisma's *JSON* protocol and reaches
// PostgreSQL through the driver adapter @prisma/adapter-pg. This process parses each GraphQL query
// (npm `graphql`) into the JSON protocol, runs it, and answers the way the client reads it
// (`data.result`, typed values flattened, errors with Prisma's codes untouched so the client raises
// its own exceptions: P2002 UniqueViolationError, P2025 RecordNotFoundError, ...).
// Facts: /work/shared/reference/litellm-db-offline.md; README.md next to this file.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import { parse, Kind } from 'graphql';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindAdapter } from '@prisma/driver-adapter-utils';
import * as engineBg from '@prisma/query-engine-wasm/postgresql/query_engine_bg.js';

export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';

// ---------------------------------------------------------------------------------------------
// schema.prisma: which fields are Json, which are relations (and to which model)

export function parseSchema(text) {
  const models = new Map();
  let current = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const open = /^(model|view)\s+(\w+)\s*\{/.exec(line);
    if (open) {
      current = new Map();
      models.set(open[2], current);
      continue;
    }
    if (line.startsWith('}')) {
      current = null;
      continue;
    }
    if (!current || !line || line.startsWith('@@')) continue;
    const field = /^(\w+)\s+(\w+)(\[\])?(\?)?/.exec(line);
    if (field) current.set(field[1], { type: field[2], list: Boolean(field[3]) });
  }
  const schema = { models };
  for (const fields of models.values()) {
    for (const f of fields.values()) {
      f.json = f.type === 'Json';
      f.relation = models.has(f.type) ? f.type : null;
    }
  }
  return schema;
}

// ---------------------------------------------------------------------------------------------
// GraphQL (as prisma-client-py renders it) -> JSON protocol

const ACTIONS = [
  'createManyAndReturn', 'createMany', 'createOne', 'findUnique', 'findFirst', 'findMany',
  'updateMany', 'updateOne', 'deleteMany', 'deleteOne', 'upsertOne', 'aggregate', 'groupBy',
];
const RAW_ACTIONS = new Set(['queryRaw', 'executeRaw', 'runCommandRaw']);

export class TranslationError extends Error {}

function splitRootField(name, schema) {
  if (RAW_ACTIONS.has(name)) return { action: name, modelName: undefined };
  let orThrow = '';
  let rest = name;
  if (rest.endsWith('OrThrow')) {
    orThrow = 'OrThrow';
    rest = rest.slice(0, -'OrThrow'.length);
  }
  for (const action of ACTIONS) {
    if (rest.startsWith(action)) {
      const modelName = rest.slice(action.length);
      if (!schema.models.has(modelName)) throw new TranslationError(`unknown model ${JSON.stringify(modelName)} in root field ${name}`);
      if (orThrow && action !== 'findUnique' && action !== 'findFirst') throw new TranslationError(`${name}: OrThrow only exists for findUnique/findFirst`);
      return { action: action + orThrow, modelName };
    }
  }
  throw new TranslationError(`unknown operation ${JSON.stringify(name)}`);
}

function valueOf(node) {
  switch (node.kind) {
    case Kind.STRING: return node.value;
    case Kind.INT: {
      const n = Number(node.value);
      return Number.isSafeInteger(n) ? n : { $type: 'BigInt', value: node.value };
    }
    case Kind.FLOAT: return Number(node.value);
    case Kind.BOOLEAN: return node.value;
    case Kind.NULL: return null;
    case Kind.ENUM: return node.value;
    case Kind.LIST: return node.values.map(valueOf);
    case Kind.OBJECT: return Object.fromEntries(node.fields.map((f) => [f.name.value, valueOf(f.value)]));
    default: throw new TranslationError(`unsupported GraphQL value kind ${node.kind}`);
  }
}

const asJson = (v) => ({ $type: 'Json', value: typeof v === 'string' ? v : JSON.stringify(v) });
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !('$type' in v);
const each = (v, fn) => (Array.isArray(v) ? v.map(fn) : fn(v));

// Json-typed inputs: the GraphQL protocol carries them as serialized strings, the JSON protocol
// wants {"$type": "Json", "value": "<serialized>"}: in create/update data (nested writes too) and
// in the equals/not filters of where inputs.
function convertData(data, model, schema) {
  if (!isObj(data)) return data;
  const fields = schema.models.get(model);
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    const f = fields.get(key);
    if (f && f.json && value !== null && !(isObj(value) && 'set' in value && Object.keys(value).length === 1)) out[key] = asJson(value);
    else if (f && f.json && isObj(value)) out[key] = { set: value.set === null ? null : asJson(value.set) };
    else if (f && f.relation) out[key] = convertNestedWrite(value, f.relation, schema);
    else out[key] = value;
  }
  return out;
}

function convertNestedWrite(ops, model, schema) {
  if (!isObj(ops)) return ops;
  const out = {};
  for (const [op, value] of Object.entries(ops)) {
    switch (op) {
      case 'create':
        out[op] = each(value, (d) => convertData(d, model, schema));
        break;
      case 'connectOrCreate':
        out[op] = each(value, (v) => ({ ...v, where: convertWhere(v.where, model, schema), create: convertData(v.create, model, schema) }));
        break;
      case 'upsert':
        out[op] = each(value, (v) => {
          const r = { ...v, create: convertData(v.create, model, schema), update: convertData(v.update, model, schema) };
          if ('where' in v) r.where = convertWhere(v.where, model, schema);
          return r;
        });
        break;
      case 'update':
      case 'updateMany':
        out[op] = each(value, (v) =>
          isObj(v) && 'data' in v && ('where' in v || op === 'updateMany')
            ? { ...v, where: convertWhere(v.where, model, schema), data: convertData(v.data, model, schema) }
            : convertData(v, model, schema));
        break;
      case 'createMany':
        out[op] = { ...value, data: each(value.data, (d) => convertData(d, model, schema)) };
        break;
      default: // connect, disconnect, set, delete, deleteMany: where inputs (or booleans)
        out[op] = each(value, (v) => convertWhere(v, model, schema));
    }
  }
  return out;
}

const RELATION_FILTERS = new Set(['is', 'isNot', 'some', 'every', 'none']);

function convertWhere(where, model, schema) {
  if (!isObj(where)) return where;
  const fields = schema.models.get(model);
  const out = {};
  for (const [key, value] of Object.entries(where)) {
    const f = fields.get(key);
    if (key === 'AND' || key === 'OR' || key === 'NOT') {
      out[key] = each(value, (w) => convertWhere(w, model, schema));
    } else if (f && f.json) {
      if (isObj(value)) {
        out[key] = Object.fromEntries(
          Object.entries(value).map(([op, v]) => [op, (op === 'equals' || op === 'not') && v !== null ? asJson(v) : v]),
        );
      } else out[key] = value === null ? null : { equals: asJson(value) };
    } else if (f && f.relation) {
      if (isObj(value) && Object.keys(value).some((k) => RELATION_FILTERS.has(k))) {
        out[key] = Object.fromEntries(Object.entries(value).map(([op, w]) => [op, convertWhere(w, f.relation, schema)]));
      } else out[key] = convertWhere(value, f.relation, schema);
    } else out[key] = value;
  }
  return out;
}

function convertArguments(args, model, schema) {
  if (!model) return args;
  const out = {};
  for (const [key, value] of Object.entries(args)) {
    if (key === 'where' || key === 'cursor' || key === 'having') out[key] = convertWhere(value, model, schema);
    else if (key === 'data') out[key] = each(value, (d) => convertData(d, model, schema));
    else if (key === 'create' || key === 'update') out[key] = convertData(value, model, schema);
    else out[key] = value;
  }
  return out;
}

function convertSelection(selectionSet, model, schema) {
  const out = {};
  for (const sel of selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) throw new TranslationError(`unsupported selection kind ${sel.kind}`);
    const name = sel.name.value;
    const args = Object.fromEntries((sel.arguments ?? []).map((a) => [a.name.value, valueOf(a.value)]));
    if (!sel.selectionSet) {
      out[name] = true;
      continue;
    }
    const f = model ? schema.models.get(model)?.get(name) : undefined;
    const related = f && f.relation ? f.relation : null;
    const nested = { selection: convertSelection(sel.selectionSet, related, schema) };
    if (Object.keys(args).length) nested.arguments = convertArguments(args, related, schema);
    out[name] = nested;
  }
  return out;
}

/** One GraphQL document as prisma-client-py renders it -> one JSON-protocol query. */
export function translateQuery(text, schema) {
  const doc = parse(text);
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length !== 1) throw new TranslationError(`expected one operation, got ${ops.length}`);
  const fields = ops[0].selectionSet.selections;
  if (fields.length !== 1 || fields[0].kind !== Kind.FIELD) throw new TranslationError('expected exactly one root field');
  const root = fields[0];
  const { action, modelName } = splitRootField(root.name.value, schema);
  const args = Object.fromEntries((root.arguments ?? []).map((a) => [a.name.value, valueOf(a.value)]));
  const query = {
    arguments: convertArguments(args, modelName, schema),
    selection: root.selectionSet ? convertSelection(root.selectionSet, modelName, schema) : {},
  };
  const json = { action, query };
  if (modelName) json.modelName = modelName;
  return { json, alias: root.alias ? root.alias.value : root.name.value, raw: RAW_ACTIONS.has(action) };
}

// ---------------------------------------------------------------------------------------------
// JSON-protocol answers -> what the GraphQL client reads

/** {"$type": "DateTime"|"Json"|"Decimal"|"BigInt"|"Bytes", "value": v} -> v, recursively. */
export function flatten(value) {
  if (Array.isArray(value)) return value.map(flatten);
  if (value !== null && typeof value === 'object') {
    if (typeof value.$type === 'string' && 'value' in value && Object.keys(value).length === 2) return value.value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flatten(v)]));
  }
  return value;
}

export function translateAnswer(answer, alias, raw) {
  if (answer.errors) return { errors: answer.errors };
  const data = answer.data ?? {};
  const keys = Object.keys(data);
  if (keys.length !== 1) return { errors: [engineError(`unexpected engine answer with keys ${JSON.stringify(keys)}`)] };
  const result = data[keys[0]];
  return { data: { [alias]: raw ? result : flatten(result) } };
}

export function engineError(message, code) {
  const user = { is_panic: false, message };
  if (code) user.error_code = code;
  return { error: message, user_facing_error: user };
}

// ---------------------------------------------------------------------------------------------
// adapter-pg 5.17 refuses some result types of raw queries that the native engine accepts
// ("Failed to deserialize column of type 'Unknown'"): present them as text / text[].

const PG_TEXT = 25;
const PG_TEXT_ARRAY = 1009;
export const AS_TEXT = new Map([[19, PG_TEXT], [18, PG_TEXT], [2205, PG_TEXT], [26, PG_TEXT], [2278, PG_TEXT], [1003, PG_TEXT_ARRAY]]);
const parseTextArray = pg.types.getTypeParser(PG_TEXT_ARRAY, 'text');

export function presentUnsupportedTypes(result) {
  const fields = result?.fields;
  if (!Array.isArray(fields)) return result;
  fields.forEach((field, i) => {
    const as = AS_TEXT.get(field.dataTypeID);
    if (as === undefined) return;
    field.dataTypeID = as;
    for (const row of result.rows ?? []) {
      const v = row[i];
      if (v === null || v === undefined) continue;
      if (as === PG_TEXT_ARRAY) row[i] = Array.isArray(v) ? v.map((x) => (x === null ? null : String(x))) : parseTextArray(String(v));
      else row[i] = String(v);
    }
  });
  return result;
}

function patchAdapter() {
  const queryable = Object.getPrototypeOf(PrismaPg.prototype); // PgQueryable: PrismaPg and PgTransaction
  if (queryable.__litellmGatewayPatched) return;
  const performIO = queryable.performIO;
  if (typeof performIO !== 'function') throw new Error('@prisma/adapter-pg changed: no performIO to wrap');
  queryable.performIO = async function (query) {
    const res = await performIO.call(this, query);
    if (res.ok) presentUnsupportedTypes(res.value);
    return res;
  };
  queryable.__litellmGatewayPatched = true;
}

// ---------------------------------------------------------------------------------------------
// the process

/**
 * TLS the way Prisma's native engine reads the URL, so the URL the gateway renders means here what
 * it means to the proxy (node-pg's own parser would read these names with libpq's meanings:
 * `sslcert` as a CLIENT certificate, `sslmode=require` as verify-full). Transcribed from quaint
 * (prisma-engines quaint/src/connector/postgres/url.rs parse_query_params, native/mod.rs
 * PostgreSql::new; rendering/db_tls.py cites them):
 *   sslmode   disable | prefer | require; anything else is ignored (prefer stays)
 *   sslaccept strict | accept_invalid_certs (default); anything else means strict
 *   sslcert   a CA file (PEM) trusted for the server (native-tls add_root_certificate)
 * strict = chain AND host name verified (native-tls never gets danger_accept_invalid_hostnames).
 * Not reproducible with node-pg, so refused instead of approximated: `prefer` given explicitly
 * (pg has no "TLS if offered" fallback), `sslidentity`/`sslpassword` (PKCS#12 client identity).
 * No sslmode at all keeps this harness's old behaviour (plaintext), which is NOT quaint's
 * (prefer): every URL the gateway renders names its sslmode.
 * Differences that remain: native-tls adds `sslcert` to the system's roots, node's `ca` replaces
 * them (the tests use a private CA either way); OpenSSL underneath both.
 */
export function prismaTls(u) {
  const mode = u.searchParams.get('sslmode');
  const accept = u.searchParams.get('sslaccept');
  const certFile = u.searchParams.get('sslcert');
  if (u.searchParams.has('sslidentity') || u.searchParams.has('sslpassword')) {
    throw new Error('prisma-translator: sslidentity/sslpassword (client identity) are not reproduced here');
  }
  for (const key of ['sslmode', 'sslaccept', 'sslcert', 'sslrootcert', 'sslkey', 'sslidentity', 'sslpassword', 'channel_binding']) {
    u.searchParams.delete(key);
  }
  if (mode === null) return undefined;
  const effective = ['disable', 'prefer', 'require'].includes(mode) ? mode : 'prefer';
  if (effective === 'disable') return false;
  if (effective === 'prefer') {
    throw new Error(`prisma-translator: sslmode=${mode} means 'prefer' to Prisma (TLS if offered, else plaintext), which node-pg cannot reproduce`);
  }
  const strict = accept !== null && accept !== 'accept_invalid_certs';
  // `host`: node-pg sends no servername for an IP literal, and node's TLS then checks the
  // certificate against 'localhost'; native-tls (OpenSSL) checks the URL's host, an IP SAN for an IP.
  const ssl = { rejectUnauthorized: strict, host: u.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (certFile !== null) ssl.ca = readFileSync(certFile, 'utf8');
  return ssl;
}

/** Prisma URL parameters pg does not know: turned into pool options or dropped. */
export function poolConfig(url) {
  const u = new URL(url);
  const config = {};
  const ssl = prismaTls(u);
  if (ssl !== undefined) config.ssl = ssl;
  const limit = u.searchParams.get('connection_limit');
  if (limit && Number(limit) > 0) config.max = Number(limit);
  const poolTimeout = u.searchParams.get('pool_timeout');
  if (poolTimeout && Number(poolTimeout) > 0) config.connectionTimeoutMillis = Number(poolTimeout) * 1000;
  const schemaName = u.searchParams.get('schema');
  for (const key of ['connection_limit', 'pool_timeout', 'schema', 'pgbouncer', 'statement_cache_size', 'socket_timeout', 'connect_timeout', 'max_connection_lifetime', 'max_idle_connection_lifetime']) {
    u.searchParams.delete(key);
  }
  config.connectionString = u.toString();
  return { config, schemaName: schemaName ?? undefined };
}

function datasourceUrl(env) {
  if (env.OVERWRITE_DATASOURCES) {
    const list = JSON.parse(env.OVERWRITE_DATASOURCES);
    if (Array.isArray(list) && list[0]?.url) return list[0].url;
  }
  if (env.DATABASE_URL) return env.DATABASE_URL;
  throw new Error('no datasource: neither OVERWRITE_DATASOURCES nor DATABASE_URL is set');
}

async function loadEngine(datamodel, url, logQueries) {
  const wasmPath = fileURLToPath(new URL('./node_modules/@prisma/query-engine-wasm/postgresql/query_engine_bg.wasm', import.meta.url));
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { './query_engine_bg.js': engineBg });
  engineBg.__wbg_set_wasm(instance.exports);
  patchAdapter();
  const { config, schemaName } = poolConfig(url);
  const pool = new pg.Pool(config);
  pool.on('error', (e) => process.stderr.write(`prisma-translator: idle pool client error: ${e.message}\n`));
  const reach = watchReachability(pool, config.connectionString);
  const log = (line) => {
    try {
      const event = JSON.parse(line);
      if (event.level === 'error' || event.level === 'warn') process.stderr.write(`prisma-translator: engine ${event.level}: ${event.message ?? line}\n`);
      else if (logQueries && event.query) process.stderr.write(`prisma-translator: query ${event.query}\n`);
    } catch {
      /* not JSON: ignore */
    }
  };
  const engine = new engineBg.QueryEngine(
    { datamodel, logLevel: 'warn', logQueries },
    log,
    bindAdapter(new PrismaPg(pool, schemaName ? { schema: schemaName } : undefined)),
  );
  await engine.connect('{}');
  return { engine, pool, reach };
}

// ---------------------------------------------------------------------------------------------
// An unreachable database, as the native engine reports it. Behind a driver adapter the WASM engine
// answers every adapter failure with P2036 "Error in external connector (id N)"; the native engine
// of the same commit answers a refused/unreachable server with P1001 (user-facing-errors
// `DatabaseNotReachable`: "Can't reach database server at `host`:`port`"). LiteLLM decides what an
// outage does from that text (litellm/proxy/db/exception_handler.py: "can't reach database server"
// makes it a transport error: reconnect, then 503), so the harness must say what the native engine
// says. `watchReachability` notes connection-level failures of the pool (no server answered, or the
// server closed the connection: P1017 "Server has closed the connection.") and clears them on the
// next success; `asNative` rewrites P2036 while the last thing seen was such a failure. Anything
// else (a query the server refused) stays as the engine answered.

// P1001: no server answered (refused, unroutable, timed out); P1017: the server closed an open
// connection (user-facing-errors `DatabaseNotReachable` / `ConnectionClosed`).
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE']);

export function connectionFailure(e) {
  if (!e) return null;
  if (UNREACHABLE.has(e.code) || /connection timeout/i.test(String(e.message ?? ''))) return 'P1001';
  if (CLOSED.has(e.code) || /Connection terminated/i.test(String(e.message ?? ''))) return 'P1017';
  return null;
}

export function watchReachability(pool, connectionString) {
  const u = new URL(connectionString);
  const state = { host: u.hostname, port: u.port || '5432', failure: null };
  const note = (promise) => {
    if (promise && typeof promise.then === 'function') {
      promise.then(
        () => { state.failure = null; },
        (e) => { const code = connectionFailure(e); if (code) state.failure = code; },
      );
    }
    return promise;
  };
  const query = pool.query.bind(pool);
  const connect = pool.connect.bind(pool);
  pool.query = (...a) => (typeof a[a.length - 1] === 'function' ? query(...a) : note(query(...a)));
  pool.connect = (...a) => (typeof a[0] === 'function' ? connect(...a) : note(connect(...a)));
  return state;
}

export function asNative(answer, reach) {
  if (!reach || !reach.failure || !answer || !Array.isArray(answer.errors)) return answer;
  const errors = answer.errors.map((err) => {
    if (err?.user_facing_error?.error_code !== 'P2036') return err;
    const where = `\`${reach.host}\`:\`${reach.port}\``;
    const message = reach.failure === 'P1001'
      ? `Can't reach database server at ${where}\n\nPlease make sure your database server is running at ${where}.`
      : 'Server has closed the connection.';
    const meta = reach.failure === 'P1001' ? { database_host: reach.host, database_port: reach.port } : {};
    return { error: message, user_facing_error: { is_panic: false, message, meta, error_code: reach.failure } };
  });
  return { ...answer, errors };
}

export function createHandler(engine, schema, reach = null) {
  async function runOne(body, txId) {
    let translated;
    try {
      translated = body.query && typeof body.query === 'object' ? { json: body, alias: 'result', raw: false, passthrough: true } : translateQuery(body.query, schema);
    } catch (e) {
      return { errors: [engineError(`prisma-translator could not translate the query: ${e.message}`)] };
    }
    const answer = asNative(JSON.parse(await engine.query(JSON.stringify(translated.json), '{}', txId)), reach);
    return translated.passthrough ? answer : translateAnswer(answer, translated.alias, translated.raw);
  }

  async function runBatch(body, txId) {
    const items = [];
    for (const item of body.batch) {
      try {
        items.push(translateQuery(item.query, schema));
      } catch (e) {
        return { errors: [engineError(`prisma-translator could not translate a batch query: ${e.message}`)] };
      }
    }
    const request = { batch: items.map((t) => t.json) };
    if (body.transaction) request.transaction = {};
    const answer = asNative(JSON.parse(await engine.query(JSON.stringify(request), '{}', txId)), reach);
    if (answer.errors) return { errors: answer.errors };
    const batchResult = answer.batchResult.map((r, i) => translateAnswer(r, items[i].alias, items[i].raw));
    const failed = batchResult.find((r) => r.errors);
    return failed ? { errors: failed.errors, batchResult } : { batchResult };
  }

  return async function handle(method, path, headers, text) {
    if (method === 'GET' && path === '/status') return { status: 'ok' };
    if (method === 'GET' && path.startsWith('/metrics')) return path.includes('format=prometheus') ? '' : { counters: [], gauges: [], histograms: [] };
    if (method !== 'POST') return { errors: [engineError(`no route ${method} ${path}`)] };
    const body = text ? JSON.parse(text) : {};
    const txId = headers['x-transaction-id'] || undefined;
    if (path === '/' || path === '') return Array.isArray(body.batch) ? runBatch(body, txId) : runOne(body, txId);
    if (path === '/transaction/start') return asNative(JSON.parse(await engine.startTransaction(JSON.stringify(body), '{}')), reach);
    const tx = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(path);
    if (tx) {
      const id = decodeURIComponent(tx[1]);
      return JSON.parse(await (tx[2] === 'commit' ? engine.commitTransaction(id, '{}') : engine.rollbackTransaction(id, '{}')));
    }
    return { errors: [engineError(`no route ${method} ${path}`)] };
  };
}

function serve(handle, port) {
  const onRequest = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let answer;
      try {
        answer = await handle(req.method, req.url, req.headers, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        answer = { errors: [engineError(`prisma-translator: ${e && e.message ? e.message : String(e)}`)] };
      }
      const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
      res.writeHead(200, { 'content-type': typeof answer === 'string' ? 'text/plain' : 'application/json' });
      res.end(text);
    });
  };
  // prisma-client-py connects to http://localhost:PORT: answer on both loopback families.
  const servers = [];
  return Promise.all(
    ['127.0.0.1', '::1'].map(
      (host) =>
        new Promise((resolve, reject) => {
          const server = http.createServer(onRequest);
          server.keepAliveTimeout = 60_000;
          server.once('error', (e) => (host === '::1' && (e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT') ? resolve() : reject(e)));
          server.listen(port, host, () => {
            servers.push(server);
            resolve();
          });
        }),
    ),
  ).then(() => servers);
}

function parseArgs(argv) {
  const args = { port: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-p' || argv[i] === '--port') args.port = Number(argv[++i]);
    else if (argv[i] === '--version' || argv[i] === 'version') args.version = true;
    // --enable-metrics, --enable-raw-queries, --enable-playground: accepted, nothing to switch on
  }
  return args;
}

async function main() {
  // The client that spawned us (the launcher passes its $PPID; we are exec'd in its place), read
  // before the slow part: it may die while the engine loads.
  const parent = Number(process.env.PRISMA_TRANSLATOR_PARENT) || process.ppid;
  const args = parseArgs(process.argv.slice(2));
  if (args.version) {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
    return;
  }
  if (!Number.isInteger(args.port) || args.port <= 0) throw new Error('usage: translator.mjs -p PORT');
  const dmlPath = process.env.PRISMA_DML_PATH;
  if (!dmlPath) throw new Error('PRISMA_DML_PATH is not set (prisma-client-py sets it to the schema file)');
  const datamodel = readFileSync(dmlPath, 'utf8');
  const schema = parseSchema(datamodel);
  const { engine, pool, reach } = await loadEngine(datamodel, datasourceUrl(process.env), Boolean(process.env.LOG_QUERIES));
  const servers = await serve(createHandler(engine, schema, reach), args.port);
  const stop = async () => {
    setTimeout(() => process.exit(0), 5000).unref(); // never hang on a stuck disconnect
    for (const s of servers) s.close();
    try {
      await engine.disconnect('{}');
      await pool.end();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The native engine dies with the client that spawned it; so does this one if its parent (a proxy
  // worker) goes away without stopping it.
  const orphaned = () => process.ppid !== parent;
  if (orphaned()) await stop();
  setInterval(() => {
    if (orphaned()) stop();
  }, 1000).unref();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`prisma-translator: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
