/**
 * Imported first by functions/index.ts, before any function module: starts Application Insights
 * (when APPLICATIONINSIGHTS_CONNECTION_STRING is set) so its instrumentation is in place before the
 * rest of the app loads. Without the setting nothing is loaded and nothing is sent.
 */
import azureFunctions from '@azure/functions';
import { startAppInsights } from './appInsights.js';

await startAppInsights(process.env, azureFunctions);
