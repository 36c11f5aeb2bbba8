import { context, metrics, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { logs, type Logger } from '@opentelemetry/api-logs';
import type * as AppInsights from 'applicationinsights';
import { loadConfig } from '../config.js';
import {
  MetricNames,
  setTelemetry,
  userRefFor,
  type DependencyCall,
  type Properties,
  type Telemetry,
  type UserIdMode,
} from './telemetry.js';

/**
 * The Application Insights adapter, on the applicationinsights v3 SDK (Azure Monitor OpenTelemetry):
 * - custom events are OpenTelemetry log records carrying `microsoft.custom_event.name`, which the
 *   Azure Monitor exporter turns into `customEvents` rows (the SDK's own trackEvent does the same);
 * - metrics go through an OpenTelemetry meter: counters and histograms are aggregated in process and
 *   exported once per interval, so 10,000 deliveries cost a few `customMetrics` rows, not 10,000
 *   (the trackMetric shim records each value as its own histogram call with no counter type);
 * - dependencies are client spans under the active span, so they join the delivery attempt's operation.
 * The SDK is loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.
 */

type Env = Record<string, string | undefined>;

const COUNTERS = new Set<string>([
  MetricNames.throttles,
  MetricNames.outcomes,
  MetricNames.producerJobs,
  MetricNames.producerRecipients,
]);

function clean(properties: Properties | undefined): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

class AppInsightsTelemetry implements Telemetry {
  private readonly logger: Logger = logs.getLogger('teams-notifier');
  private readonly meter = metrics.getMeter('teams-notifier');
  private readonly tracer = trace.getTracer('teams-notifier');
  private readonly counters = new Map<string, ReturnType<typeof this.meter.createCounter>>();
  private readonly histograms = new Map<string, ReturnType<typeof this.meter.createHistogram>>();
  readonly userRef: (id: string | undefined) => string | undefined;

  constructor(options: { userIds: UserIdMode; salt: string }) {
    this.userRef = userRefFor(options.userIds, options.salt);
  }

  event(name: string, properties?: Properties, measurements?: Record<string, number>): void {
    const attributes = clean(properties);
    attributes['microsoft.custom_event.name'] = name;
    if (measurements && Object.keys(measurements).length > 0) {
      attributes['microsoft.custom_measurements'] = JSON.stringify(measurements);
    }
    this.logger.emit({ attributes, context: context.active() });
  }

  metric(name: string, value: number, properties?: Properties): void {
    if (COUNTERS.has(name)) {
      let counter = this.counters.get(name);
      if (!counter) this.counters.set(name, (counter = this.meter.createCounter(name)));
      counter.add(value, clean(properties));
    } else {
      let histogram = this.histograms.get(name);
      if (!histogram)
        this.histograms.set(name, (histogram = this.meter.createHistogram(name, { unit: 'ms' })));
      histogram.record(value, clean(properties));
    }
  }

  dependency(call: DependencyCall): void {
    // The host only, no URL: conversation IDs stay out of telemetry. peer.service keeps the
    // dependency named after the call (e.g. SendToConversation) with the host as its target.
    const span = this.tracer.startSpan(
      call.name,
      {
        kind: SpanKind.CLIENT,
        startTime: Date.now() - call.durationMs,
        attributes: {
          'http.request.method': 'POST',
          'peer.service': call.target,
          ...(call.resultCode ? { 'http.response.status_code': call.resultCode } : {}),
          ...clean(call.properties),
        },
      },
      context.active(),
    );
    span.setStatus({ code: call.success ? SpanStatusCode.OK : SpanStatusCode.ERROR });
    span.end();
  }
}

/** What start.ts needs of `@azure/functions` (its default export). */
interface FunctionsModule {
  app: {
    hook: { appTerminate(handler: () => unknown): unknown };
  };
}

let started: { shutdown(): Promise<void> } | undefined;

/**
 * Starts Application Insights once per process when a connection string is set; otherwise does
 * nothing (the port stays a no-op and nothing is sent). Returns whether telemetry is on.
 */
export async function startAppInsights(env: Env, azureFunctions: FunctionsModule): Promise<boolean> {
  const settings = loadConfig(env).telemetry;
  if (!settings.connectionString) return false;
  if (started) return true;
  // Imported on demand, so a run without telemetry does not pay for them; the build bundles them
  // into their own chunk (loading the bundled SDK is about three times faster than from node_modules).
  const ai = (await import('applicationinsights')).default as typeof AppInsights;
  const { AzureFunctionsInstrumentationESM } = (
    (await import('@azure/functions-opentelemetry-instrumentation')) as unknown as {
      default: { AzureFunctionsInstrumentationESM: new () => { registerAzFunc(module: unknown): void } };
    }
  ).default;
  // With Entra authentication (the infra disables the resource's local auth) the exporter signs in
  // with the managed identity, as the Functions host does for its own telemetry.
  const credential = settings.entraAuth
    ? new (await import('@azure/identity')).ManagedIdentityCredential(
        settings.entraAuth.clientId ? { clientId: settings.entraAuth.clientId } : {},
      )
    : undefined;
  ai.useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: settings.connectionString,
      ...(credential ? { credential } : {}),
    },
    // Fixed-ratio sampling per trace: a job's story is kept whole or not at all. Events and
    // metrics are never sampled.
    samplingRatio: settings.samplingRatio,
    tracesPerSecond: 0,
    enableLiveMetrics: settings.liveMetrics,
    // Off: storage URLs carry row keys made of UPNs and AAD object IDs, and queue polling alone
    // would send several dependencies a second. The app records its own spans for what ops need.
    instrumentationOptions: { http: { enabled: false }, azureSdk: { enabled: false } },
  });
  // Joins each invocation to the host's operation (InvocationContext.traceContext) and sends
  // context.log output as traces. ESM apps register the module by hand.
  new AzureFunctionsInstrumentationESM().registerAzFunc(azureFunctions);
  setTelemetry(new AppInsightsTelemetry({ userIds: settings.userIds, salt: settings.salt }));
  started = { shutdown: () => ai.shutdownAzureMonitor() };
  // Send what is buffered before the worker goes away.
  azureFunctions.app.hook.appTerminate(() => started?.shutdown());
  return true;
}
