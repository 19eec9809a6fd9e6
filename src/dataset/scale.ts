/** Scale presets: `tiny` for tests, `small` by default, `medium` for millions of rows. */
export const SCALE_NAMES = ['tiny', 'small', 'medium'] as const;
export type ScaleName = (typeof SCALE_NAMES)[number];

export interface Scale {
  symbols: number;
  /** One-minute candles per symbol. */
  candlesPerSymbol: number;
  orders: number;
  trades: number;
  accounts: number;
}

export const SCALES: Record<ScaleName, Scale> = {
  tiny: { symbols: 10, candlesPerSymbol: 500, orders: 2_000, trades: 4_000, accounts: 10 },
  small: { symbols: 50, candlesPerSymbol: 4_000, orders: 50_000, trades: 100_000, accounts: 100 },
  medium: { symbols: 200, candlesPerSymbol: 10_000, orders: 500_000, trades: 1_000_000, accounts: 500 },
};
