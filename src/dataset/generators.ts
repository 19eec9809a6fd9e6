/**
 * Deterministic, streaming row generators in COPY text format. Each yields
 * chunks of a few hundred rows as one string, so millions of rows flow to the
 * server without ever being held in memory as an array.
 */
import { Faker, en } from '@faker-js/faker';
import { intBetween, streamFor } from './prng.js';
import type { Scale } from './scale.js';

const CHUNK_ROWS = 500;
/** Where the time series start unless told otherwise: a fixed moment, so the same seed always gives the same timestamps. */
const EPOCH_MS = Date.UTC(2026, 0, 5, 0, 0, 0);
const MINUTE_MS = 60_000;
const EXCHANGES = ['XNYS', 'XNAS', 'XLON', 'XETR', 'XTKS', 'XHKG', 'BINANCE', 'COINBASE'];
const ASSET_CLASSES = ['equity', 'etf', 'crypto', 'fx', 'future'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'HKD', 'USD'];
const ORDER_STATUSES = ['filled', 'filled', 'filled', 'partially_filled', 'cancelled', 'open'];

type RowStream = AsyncGenerator<string, void, undefined>;

export interface TableStream {
  table: string;
  columns: string[];
  rows: number;
  stream: () => RowStream;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A symbol's starting price, the same for candles, orders and trades. */
function basePrice(seed: number, symbolId: number): number {
  return 5 + streamFor(seed, `price:${symbolId}`)() * 495;
}

/** Orders are spread over symbols by a function, not a lookup table, so trades can follow without memory. */
function symbolOfOrder(orderId: number, scale: Scale): number {
  return ((orderId * 7919) % scale.symbols) + 1;
}

async function* chunked(total: number, row: (i: number) => string): RowStream {
  let buffer = '';
  for (let i = 0; i < total; i++) {
    buffer += row(i);
    if ((i + 1) % CHUNK_ROWS === 0) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}

export function symbolsStream(seed: number, scale: Scale): TableStream {
  return {
    table: 'symbols',
    columns: ['symbol_id', 'ticker', 'name', 'exchange', 'asset_class', 'currency', 'listed_on'],
    rows: scale.symbols,
    stream: () => {
      // faker supplies reference data only: names read like real issuers.
      const faker = new Faker({ locale: [en] });
      faker.seed(seed);
      const used = new Set<string>();
      return chunked(scale.symbols, (i) => {
        let ticker: string;
        do {
          ticker = faker.string.alpha({ length: { min: 3, max: 5 }, casing: 'upper' });
        } while (used.has(ticker));
        used.add(ticker);
        const name = faker.company.name().replace(/[\t\n\\]/g, ' ');
        const listed = faker.date.between({ from: '1990-01-01', to: '2020-12-31' }).toISOString().slice(0, 10);
        return `${i + 1}\t${ticker}\t${name}\t${faker.helpers.arrayElement(EXCHANGES)}\t${faker.helpers.arrayElement(ASSET_CLASSES)}\t${faker.helpers.arrayElement(CURRENCIES)}\t${listed}\n`;
      });
    },
  };
}

/** One-minute OHLCV candles per symbol; the close follows a random walk. */
export function candlesStream(seed: number, scale: Scale, epochMs = EPOCH_MS): TableStream {
  const perSymbol = scale.candlesPerSymbol;
  return {
    table: 'candles',
    columns: ['symbol_id', 'ts', 'open', 'high', 'low', 'close', 'volume'],
    rows: scale.symbols * perSymbol,
    stream: () => {
      const random = streamFor(seed, 'candles');
      let price = 0;
      return chunked(scale.symbols * perSymbol, (i) => {
        const symbolId = Math.floor(i / perSymbol) + 1;
        const minute = i % perSymbol;
        if (minute === 0) price = basePrice(seed, symbolId);
        const open = price;
        const close = Math.max(0.01, open * (1 + (random() - 0.5) * 0.004));
        const high = Math.max(open, close) * (1 + random() * 0.001);
        const low = Math.min(open, close) * (1 - random() * 0.001);
        price = close;
        const volume = intBetween(random, 100, 50_000);
        return `${symbolId}\t${iso(epochMs + minute * MINUTE_MS)}\t${open.toFixed(6)}\t${high.toFixed(6)}\t${low.toFixed(6)}\t${close.toFixed(6)}\t${volume}\n`;
      });
    },
  };
}

function ordersStream(seed: number, scale: Scale, epochMs: number): TableStream {
  const span = scale.candlesPerSymbol * MINUTE_MS;
  return {
    table: 'orders',
    columns: ['order_id', 'symbol_id', 'account_id', 'side', 'order_type', 'quantity', 'limit_price', 'status', 'created_at'],
    rows: scale.orders,
    stream: () => {
      const random = streamFor(seed, 'orders');
      return chunked(scale.orders, (i) => {
        const orderId = i + 1;
        const symbolId = symbolOfOrder(orderId, scale);
        const side = random() < 0.5 ? 'buy' : 'sell';
        const limit = random() < 0.6;
        const price = basePrice(seed, symbolId) * (1 + (random() - 0.5) * 0.02);
        const quantity = (1 + random() * 999).toFixed(4);
        const status = ORDER_STATUSES[Math.floor(random() * ORDER_STATUSES.length)];
        const created = epochMs + Math.floor((i / scale.orders) * span);
        return `${orderId}\t${symbolId}\t${intBetween(random, 1, scale.accounts)}\t${side}\t${limit ? 'limit' : 'market'}\t${quantity}\t${limit ? price.toFixed(6) : '\\N'}\t${status}\t${iso(created)}\n`;
      });
    },
  };
}

function tradesStream(seed: number, scale: Scale, epochMs: number): TableStream {
  const span = scale.candlesPerSymbol * MINUTE_MS;
  return {
    table: 'trades',
    columns: ['trade_id', 'order_id', 'symbol_id', 'price', 'quantity', 'executed_at'],
    rows: scale.trades,
    stream: () => {
      const random = streamFor(seed, 'trades');
      return chunked(scale.trades, (i) => {
        // Trades fill orders in time order, a few fills per order.
        const orderId = Math.min(scale.orders, Math.floor((i / scale.trades) * scale.orders) + 1);
        const symbolId = symbolOfOrder(orderId, scale);
        const price = basePrice(seed, symbolId) * (1 + (random() - 0.5) * 0.02);
        const executed = epochMs + Math.floor((i / scale.trades) * span) + intBetween(random, 0, 999);
        return `${i + 1}\t${orderId}\t${symbolId}\t${price.toFixed(6)}\t${(1 + random() * 99).toFixed(4)}\t${iso(executed)}\n`;
      });
    },
  };
}

function positionsStream(seed: number, scale: Scale, epochMs: number): TableStream {
  const end = epochMs + scale.candlesPerSymbol * MINUTE_MS;
  return {
    table: 'positions',
    columns: ['account_id', 'symbol_id', 'quantity', 'avg_price', 'updated_at'],
    rows: scale.accounts * scale.symbols,
    stream: () => {
      const random = streamFor(seed, 'positions');
      return chunked(scale.accounts * scale.symbols, (i) => {
        const accountId = Math.floor(i / scale.symbols) + 1;
        const symbolId = (i % scale.symbols) + 1;
        const quantity = ((random() - 0.3) * 10_000).toFixed(4);
        const avg = basePrice(seed, symbolId) * (1 + (random() - 0.5) * 0.05);
        return `${accountId}\t${symbolId}\t${quantity}\t${avg.toFixed(6)}\t${iso(end - intBetween(random, 0, 86_400_000))}\n`;
      });
    },
  };
}

/** How long the time series span at a scale: one candle a minute per symbol. */
export function spanMs(scale: Scale): number {
  return scale.candlesPerSymbol * MINUTE_MS;
}

/** Every table in load order (parents before children), the time series starting at `epochMs`. */
export function datasetStreams(seed: number, scale: Scale, epochMs = EPOCH_MS): TableStream[] {
  return [
    symbolsStream(seed, scale),
    candlesStream(seed, scale, epochMs),
    ordersStream(seed, scale, epochMs),
    tradesStream(seed, scale, epochMs),
    positionsStream(seed, scale, epochMs),
  ];
}
