/**
 * The app's entry (package.json "main"): the one list of functions, used by the Functions host and
 * by the local host. Telemetry starts before anything else is loaded.
 */
import '../shared/telemetry/start.js';
import './messages.js';
import './postNotification.js';
import './getNotification.js';
import './notificationJobs.js';
import './notificationDeliveries.js';
import './poisonQueues.js';
