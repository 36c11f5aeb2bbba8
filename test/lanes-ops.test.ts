import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { LANES } from '../shared/delivery/lanes.js';
import { SCHEDULED_QUERY_RULES } from './fixtures/bicepTypes.js';
import customMetricsTable from './fixtures/microsoft/app-insights-custom-metrics.json' with { type: 'json' };
import { FUNCTION_KEY, ROOT, TENANT, startApp, type TestApp } from './support/app.js';
import { startIngestion, telemetrySettings, type Envelope, type Ingestion } from './support/ingestion.js';
import { FAST_QUEUES, seedUser, settled } from './support/pipeline.js';

/**
 * Issue 24, item 5: ops see the lanes. The app runs in its own process with the real
 * applicationinsights SDK exporting to a local ingestion endpoint; one job per lane is delivered.
 * The wait metric is found in what the exporter sent (not in our constants), and the workbook tile
 * and the urgent-wait alert (docs/workbook.json, docs/alerts/alerts.json, both deployed by
 * infra/resources.bicep) must read that name, that dimension, and only columns Microsoft's
 * customMetrics table has. The alert rules are checked against Microsoft's Bicep type definition.
 */

interface MetricRow {
  name: string;
  value: number;
  count?: number;
  max?: number;
  properties: Record<string, string>;
}

/** Every metric data point the exporter sent, with its dimensions. */
function metricRows(envelopes: Envelope[]): MetricRow[] {
  return envelopes
    .filter((e) => e.data?.baseType === 'MetricData')
    .flatMap((e) => {
      const data = e.data?.baseData as { metrics: MetricRow[]; properties?: Record<string, string> };
      return data.metrics.map((m) => ({ ...m, properties: data.properties ?? {} }));
    });
}

interface AlertRule {
  type: string;
  apiVersion: string;
  name: string;
  properties: {
    criteria: { allOf: Array<Record<string, unknown> & { query: string }> };
  } & Record<string, unknown>;
}
const alerts = JSON.parse(readFileSync(path.join(ROOT, 'docs/alerts/alerts.json'), 'utf8')) as {
  parameters: Record<string, { type: string; defaultValue?: unknown }>;
  resources: AlertRule[];
};
const workbook = JSON.parse(readFileSync(path.join(ROOT, 'docs/workbook.json'), 'utf8')) as {
  items: Array<{ name?: string; content?: { query?: string; visualization?: string } }>;
};

/** The `value…` columns a KQL query names, each of which must be one of customMetrics' columns. */
const valueColumns = (query: string) => [...query.matchAll(/\bvalue\w*/g)].map((m) => m[0]);

let ingestion: Ingestion;
let app: TestApp;
const statuses = new Map<string, JobStatus>();
let rows: MetricRow[] = [];

beforeAll(async () => {
  ingestion = await startIngestion();
  app = await startApp({
    childProcess: true,
    env: { ...FAST_QUEUES, ...telemetrySettings(ingestion) },
  });
  for (const lane of LANES) {
    const user = await seedUser(app);
    const res = await app.post(
      'notifications',
      {
        tenantId: TENANT,
        priority: lane,
        recipients: [{ upn: user.upn }],
        message: { text: `${lane} news` },
      },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    statuses.set(lane, await settled(app, jobId));
  }
  // SIGTERM: the host drains, runs appTerminate, and the SDK flushes its metrics.
  await app.host.stop();
  rows = metricRows(ingestion.envelopes);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await ingestion?.stop();
});

/** The metric whose data points carry the urgent delivery's lane, and the dimension that names it. */
function waitMetric(): { name: string; dimension: string } {
  const laneRows = rows.filter((r) => Object.values(r.properties).includes('urgent'));
  const names = [...new Set(laneRows.map((r) => r.name))];
  expect(names).toHaveLength(1);
  const dimension = Object.keys(laneRows[0]!.properties).find((k) => laneRows[0]!.properties[k] === 'urgent');
  return { name: names[0]!, dimension: dimension! };
}

describe('the wait per lane, as Application Insights receives it', () => {
  it('is one metric with a lane dimension: each lane’s delivery counted once, its wait as the status shows it', () => {
    const { name, dimension } = waitMetric();
    for (const lane of LANES) {
      const points = rows.filter((r) => r.name === name && r.properties[dimension] === lane);
      const waited = statuses.get(lane)!.recipients[0]!.waitMs!;
      expect(statuses.get(lane)!.recipients[0]).toMatchObject({ status: 'sent', lane });
      expect(
        points.reduce((n, p) => n + (p.count ?? 1), 0),
        lane,
      ).toBe(1);
      // One delivery: its sum and its max (customMetrics valueSum and valueMax) are its wait.
      expect(points.reduce((n, p) => n + p.value, 0)).toBe(waited);
      expect(Math.max(...points.map((p) => p.max ?? -1))).toBe(waited);
      expect(points[0]!.properties.tenantId).toBe(TENANT);
    }
  });
});

describe('the workbook tile', () => {
  it('charts that metric over time, split by its lane dimension, reading only customMetrics columns', () => {
    const { name, dimension } = waitMetric();
    const tiles = workbook.items.filter((i) => i.content?.query?.includes(`name == "${name}"`));
    expect(tiles.map((t) => t.name)).toEqual(['Delivery wait per lane']);
    const { query, visualization } = tiles[0]!.content!;
    expect(query).toMatch(/^customMetrics\n/);
    expect(query).toContain(`lane = tostring(customDimensions.${dimension})`);
    expect(query).toMatch(/by bin\(timestamp, 5m\), lane$/);
    expect(visualization).toBe('timechart');
    for (const column of valueColumns(query!)) expect(customMetricsTable.columns).toContain(column);
  });
});

describe('the urgent-wait alert (docs/alerts/alerts.json)', () => {
  const rule = () => {
    const { name } = waitMetric();
    const found = alerts.resources.filter((r) =>
      r.properties.criteria.allOf.some((c) => c.query.includes(`name == "${name}"`)),
    );
    expect(found.map((r) => r.name)).toEqual(["[concat(parameters('prefix'), '-urgent-wait')]"]);
    return found[0]!;
  };

  it('watches the urgent lane of that metric, over a threshold in seconds that is a parameter (default 5)', () => {
    const { dimension } = waitMetric();
    const [condition] = rule().properties.criteria.allOf;
    const query = condition!.query;
    expect(query).toMatch(/^customMetrics \| where /);
    expect(query).toContain(`tostring(customDimensions.${dimension}) == "urgent"`);
    for (const column of valueColumns(query)) expect(customMetricsTable.columns).toContain(column);
    // The measure column the rule aggregates is the worst wait, in seconds, per 5-minute bin.
    const measure = condition!.metricMeasureColumn as string;
    expect(query).toContain(`summarize ${measure} = max(valueMax) / 1000.0 by bin(timestamp, 5m)`);
    expect(condition).toMatchObject({ timeAggregation: 'Maximum', operator: 'GreaterThan' });
    const threshold = /^\[parameters\('(\w+)'\)\]$/.exec(String(condition!.threshold))?.[1];
    expect(alerts.parameters[threshold!]).toMatchObject({ type: 'int', defaultValue: 5 });
    expect(rule().properties).toMatchObject({
      enabled: true,
      severity: 1,
      actions: { actionGroups: ["[parameters('actionGroupId')]"] },
    });
  });

  it('uses, like every alert rule there, only properties Microsoft defines, and every required one', () => {
    const keysOf = (value: unknown): string[] =>
      Array.isArray(value)
        ? value.flatMap(keysOf)
        : value && typeof value === 'object'
          ? Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)])
          : [];
    const check = (r: AlertRule) => {
      const { type, apiVersion, ...resource } = r;
      expect(`${type}@${apiVersion}`).toBe(
        `${SCHEDULED_QUERY_RULES.type}@${SCHEDULED_QUERY_RULES.apiVersion}`,
      );
      const unknown = keysOf(resource).filter((k) => !SCHEDULED_QUERY_RULES.properties.includes(k));
      const missing = SCHEDULED_QUERY_RULES.required.filter((k) => !(k in resource));
      const conditions = r.properties.criteria.allOf;
      const badEnums = conditions.filter(
        (c) =>
          !SCHEDULED_QUERY_RULES.timeAggregations.includes(c.timeAggregation as string) ||
          !SCHEDULED_QUERY_RULES.operators.includes(c.operator as string),
      );
      return { unknown, missing, badEnums: badEnums.length };
    };
    for (const r of alerts.resources) {
      expect(check(r), `${r.name} (${SCHEDULED_QUERY_RULES.source})`).toEqual({
        unknown: [],
        missing: [],
        badEnums: 0,
      });
    }
    // And the check would see a misspelt property.
    const typo = structuredClone(rule());
    const c = typo.properties.criteria.allOf[0]!;
    c.metricMeasureColum = c.metricMeasureColumn;
    delete c.metricMeasureColumn;
    expect(check(typo).unknown).toEqual(['metricMeasureColum']);
  });
});
