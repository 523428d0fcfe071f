/**
 * A live time chart (uPlot). Series are given as columns: `times` in ms and one array of
 * values per line. The chart is created once and fed new data, so it does not flicker.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatCount } from '../format.js';

export interface ChartLine {
  readonly label: string;
  readonly color: string;
  readonly values: ReadonlyArray<number | null>;
}

export interface TimeChartProps {
  readonly title: string;
  readonly timesMs: readonly number[];
  readonly lines: readonly ChartLine[];
  readonly height?: number;
  /** Formats axis ticks and legend values; default {@link formatCount}. */
  readonly format?: (value: number) => string;
}

export function TimeChart({
  title,
  timesMs,
  lines,
  height = 220,
  format = formatCount,
}: TimeChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = lines.map((line) => line.label).join('|');

  // Rebuilt only when the set of lines changes; width follows the container.
  // biome-ignore lint/correctness/useExhaustiveDependencies: lines are read through `shape`.
  useEffect(() => {
    const element = container.current;
    if (element === null) return;
    const options: uPlot.Options = {
      title,
      width: Math.max(element.clientWidth, 200),
      height,
      series: [
        {},
        ...lines.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 2,
          value: (_: uPlot, value: number | null) => (value === null ? '–' : format(value)),
        })),
      ],
      axes: [{}, { values: (_: uPlot, ticks: number[]) => ticks.map(format), size: 60 }],
      scales: { x: { time: true } },
      legend: { live: true },
    };
    const created = new uPlot(options, toData(timesMs, lines), element);
    plot.current = created;
    const resize = new ResizeObserver(() => {
      created.setSize({ width: Math.max(element.clientWidth, 200), height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      created.destroy();
      plot.current = null;
    };
  }, [shape, title, height]);

  useEffect(() => {
    plot.current?.setData(toData(timesMs, lines));
  }, [timesMs, lines]);

  return (
    <div className="chart-frame">
      <div className="chart" ref={container} data-chart={title} data-points={timesMs.length} />
      {timesMs.length === 0 ? <p className="chart-empty">Waiting for data…</p> : null}
    </div>
  );
}

function toData(timesMs: readonly number[], lines: readonly ChartLine[]): uPlot.AlignedData {
  return [timesMs.map((ms) => ms / 1000), ...lines.map((line) => [...line.values])];
}
