// Round trip of the smallest request to each server, one after another on one connection: Redis PING and a
// PostgreSQL simple-protocol `SELECT 1`, spoken directly over TCP so no client library's own work is in the number.
// Usage: node round-trips.mjs <redis host:port> <postgres host:port> [samples] [warmup]
// Prints one JSON line per server: samples, p50/p99/max in microseconds.
// PostgreSQL must accept the account `postgres` without a password (the AppHost's local server does: trust on loopback).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [redisAddress, postgresAddress, samplesArg = '2000', warmupArg = '200'] = process.argv.slice(2);
if (!redisAddress || !postgresAddress) {
  console.error('Usage: node round-trips.mjs <redis host:port> <postgres host:port> [samples] [warmup]');
  process.exit(2);
}
const samples = Number(samplesArg);
const warmup = Number(warmupArg);

function connect(address) {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: Number(port), noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

// Sends `request` and resolves once `complete(buffered bytes)` says the whole answer arrived.
function exchange(socket, request, complete) {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (complete(received)) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

async function measure(name, socket, request, complete) {
  const latencies = [];
  for (let i = 0; i < warmup + samples; i++) {
    const started = performance.now();
    await exchange(socket, request, complete);
    if (i >= warmup) {
      latencies.push((performance.now() - started) * 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]);
  return { server: name, samples, us: { p50: at(50), p99: at(99), max: at(100) } };
}

// PostgreSQL answers with typed messages (1 type byte, 4 length bytes that count themselves); 'Z' is ReadyForQuery,
// the last message of the start-up and of every query.
function endsWithReadyForQuery(buffer) {
  let offset = 0;
  let last = '';
  while (offset + 5 <= buffer.length) {
    const length = buffer.readInt32BE(offset + 1);
    if (offset + 1 + length > buffer.length) {
      return false;
    }
    last = String.fromCharCode(buffer[offset]);
    if (last === 'E') {
      throw new Error(`PostgreSQL refused: ${buffer.subarray(offset + 5, offset + 1 + length).toString('latin1')}`);
    }
    offset += 1 + length;
  }
  return offset === buffer.length && last === 'Z';
}

function startupMessage(user, database) {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`, 'latin1');
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(196608, 4); // protocol 3.0
  return Buffer.concat([header, body]);
}

function queryMessage(sql) {
  const text = Buffer.from(`${sql}\0`, 'latin1');
  const header = Buffer.alloc(5);
  header.write('Q', 0, 'latin1');
  header.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([header, text]);
}

const redis = await connect(redisAddress);
console.log(JSON.stringify(await measure('redis PING', redis, '*1\r\n$4\r\nPING\r\n', (b) => b.toString('latin1') === '+PONG\r\n')));
redis.end();

const postgres = await connect(postgresAddress);
await exchange(postgres, startupMessage('postgres', 'llmworkflow'), endsWithReadyForQuery);
console.log(JSON.stringify(await measure('postgres SELECT 1', postgres, queryMessage('SELECT 1'), endsWithReadyForQuery)));
postgres.end();
