/**
 * Scale presets: `tiny` for tests, `small` by default, `medium` for millions
 * of rows, `large` for tens of millions (several GB). Or a number of candle
 * rows, the other tables in the presets' proportions: the sizes of a
 * projection need not be the presets'.
 */
export const SCALE_NAMES = ['tiny', 'small', 'medium', 'large'] as const;
export type ScaleName = (typeof SCALE_NAMES)[number];
/** A preset's name, or a number of candle rows. */
export type ScaleSetting = ScaleName | number;
/** The candle rows a numeric scale may ask for: a cluster of a few MB up to about 70 GB. */
export const CANDLE_ROWS = { min: 1_000, max: 200_000_000 } as const;

const MiB = 1024 * 1024;

export interface Scale {
  symbols: number;
  /** One-minute candles per symbol. */
  candlesPerSymbol: number;
  orders: number;
  trades: number;
  accounts: number;
  /** About how much disk the seeded cluster takes (measured, with room): the free-space check before a drill scales from it. */
  clusterBytes: number;
}

export const SCALES: Record<ScaleName, Scale> = {
  tiny: { symbols: 10, candlesPerSymbol: 500, orders: 2_000, trades: 4_000, accounts: 10, clusterBytes: 64 * MiB },
  small: { symbols: 50, candlesPerSymbol: 4_000, orders: 50_000, trades: 100_000, accounts: 100, clusterBytes: 192 * MiB },
  medium: { symbols: 200, candlesPerSymbol: 10_000, orders: 500_000, trades: 1_000_000, accounts: 500, clusterBytes: 768 * MiB },
  // 20M candles (about two weeks of one-minute candles for 1,000 symbols), 5M orders, 10M trades, 1M positions.
  large: { symbols: 1_000, candlesPerSymbol: 20_000, orders: 5_000_000, trades: 10_000_000, accounts: 1_000, clusterBytes: 7 * 1024 * MiB },
};

/** The preset, or for a number of candle rows: up to 1,000 symbols of up to 20,000 candles each before the span grows, orders a quarter and trades half the candles, as in the presets. */
export function scaleOf(setting: ScaleSetting): Scale {
  if (typeof setting === 'string') return SCALES[setting];
  const symbols = Math.min(1_000, Math.max(10, Math.round(setting / 20_000)));
  const candlesPerSymbol = Math.max(1, Math.round(setting / symbols));
  const candles = symbols * candlesPerSymbol;
  // About 350 bytes a candle with its share of orders and trades and their indexes (as `large` measures), with room.
  return { symbols, candlesPerSymbol, orders: Math.round(candles / 4), trades: Math.round(candles / 2), accounts: symbols, clusterBytes: 64 * MiB + candles * 400 };
}
