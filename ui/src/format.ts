/** Numbers as people read them on a dashboard: 12.3k, 4.5M, 87.2%, $1,234. */

/** 1234 → `1.23k`, 4_500_000 → `4.5M`; small numbers keep up to one decimal. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const magnitude = Math.abs(value);
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (magnitude >= size) return `${trimZeros((value / size).toPrecision(3))}${suffix}`;
  }
  return magnitude >= 100 || Number.isInteger(value)
    ? String(Math.round(value))
    : trimZeros(value.toFixed(1));
}

/** A rate such as `12.3k/s`. */
export function formatRate(perSecond: number): string {
  return `${formatCount(perSecond)}/s`;
}

/** 0.8734 (a share) → `87.3%`. */
export function formatShare(share: number): string {
  if (!Number.isFinite(share)) return '–';
  return `${trimZeros((share * 100).toFixed(1))}%`;
}

/** A percent value as the API gives it (87.3 → `87.3%`). */
export function formatPercent(percent: number): string {
  return formatShare(percent / 100);
}

const DOLLARS = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 0,
});
const CENTS = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 2,
});

/** `$1,234` (cents only below $100). */
export function formatDollars(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return Math.abs(value) < 100 ? CENTS.format(value) : DOLLARS.format(value);
}

/** 1536 → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : trimZeros(value.toFixed(1))} ${units[unit]}`;
}

/** Time since `ms` in words: `3 s ago`, `2 min ago`. */
export function formatAgo(ms: number, nowMs: number = Date.now()): string {
  if (ms <= 0) return 'never';
  const seconds = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** `1h 5m`, `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${rest}s`;
  return `${rest}s`;
}

/** A duration in nanoseconds: `850 ns`, `1.93 µs`, `2.1 ms`. */
export function formatNanoseconds(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (Math.abs(ns) >= 1e6) return `${trimZeros((ns / 1e6).toPrecision(3))} ms`;
  if (Math.abs(ns) >= 1e3) return `${trimZeros((ns / 1e3).toPrecision(3))} µs`;
  return `${Math.round(ns)} ns`;
}

/** Monthly cost of `series` active series at `pricePerThousand` dollars per 1k series. */
export function monthlyCost(series: number, pricePerThousand: number): number {
  return (series / 1000) * pricePerThousand;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
