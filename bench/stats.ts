/** The value below which `p` percent of `values` fall (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (values: number[]): number => percentile(values, 50);

export const ms = (value: number): string => `${value.toFixed(1)} ms`;

export const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis));
