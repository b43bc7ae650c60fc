import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { writeFileAtomic } from '../util/atomic.js';

export interface ProgressLog {
  trainLoss: number[];
  valLoss: number[];
  /** Per-epoch pseudo-Dice of the validation batches (mean over foreground classes). */
  evalMetric: number[];
  /** Its exponential moving average (v1: 0.9 old + 0.1 new). */
  evalMetricEma: number[];
}

function rows(log: ProgressLog): { epoch: number; value: number; series: string; axis: 'loss' | 'dice' }[] {
  const out: { epoch: number; value: number; series: string; axis: 'loss' | 'dice' }[] = [];
  const add = (values: number[], series: string, axis: 'loss' | 'dice') => {
    values.forEach((value, epoch) => {
      if (Number.isFinite(value)) out.push({ epoch, value, series, axis });
    });
  };
  add(log.trainLoss, 'train loss', 'loss');
  add(log.valLoss, 'val loss', 'loss');
  add(log.evalMetric, 'pseudo Dice', 'dice');
  add(log.evalMetricEma, 'pseudo Dice (EMA)', 'dice');
  return out;
}

/** Renders the progress plot as PNG bytes. */
export async function renderProgressPng(log: ProgressLog, title = ''): Promise<Uint8Array> {
  const values = rows(log);
  const color = {
    field: 'series',
    type: 'nominal',
    scale: {
      domain: ['train loss', 'val loss', 'pseudo Dice', 'pseudo Dice (EMA)'],
      range: ['#1f77b4', '#d62728', '#2ca02c', '#98df8a'],
    },
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 720,
    height: 360,
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.axis == 'loss'" }],
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { format: 'd', tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: 'loss', scale: { zero: false } },
          color,
        },
      },
      {
        transform: [{ filter: "datum.axis == 'dice'" }],
        mark: { type: 'line', strokeWidth: 2, strokeDash: [4, 2] },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'value', type: 'quantitative', title: 'evaluation metric', scale: { domain: [0, 1] } },
          color,
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
  const view = new vega.View(vega.parse(vl.compile(spec as vl.TopLevelSpec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { fitTo: { mode: 'width', value: 1440 }, font: { loadSystemFonts: true } }).render().asPng();
}

/** Writes progress.png atomically. */
export async function writeProgressPng(path: string, log: ProgressLog, title = ''): Promise<void> {
  const png = await renderProgressPng(log, title);
  writeFileAtomic(path, png);
}
