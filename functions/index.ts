/**
 * The app's entry (package.json "main"): the one list of functions, used by the Functions host and
 * by the local host. Each function's folder holds its registration (index.ts) and its handler,
 * loaded on first invocation. Telemetry starts before anything else is loaded.
 */
import '../shared/telemetry/start.js';
import './messages/index.js';
import './postNotification/index.js';
import './getNotification/index.js';
import './updateNotification/index.js';
import './recallNotification/index.js';
import './notificationJobs/index.js';
import './notificationDeliveries/index.js';
import './notificationJobsPoison/index.js';
import './notificationDeliveriesPoison/index.js';
import './notificationCallbacks/index.js';
import './health/index.js';
import './openApi/index.js';
