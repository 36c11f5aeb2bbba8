import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { CloudAdapter, Request, Response } from 'botbuilder';
import { createAdapter } from '../../shared/botFramework.js';
import { inboundAuthentication } from '../../shared/config.js';
import { services } from '../../shared/container.js';
import { readLimitedBody } from '../../shared/triggers/httpBody.js';
import { activityProblem } from './activityShape.js';
import { TeamsNotifierBot, type TurnOutcome } from './teamsBot.js';

const MAX_ACTIVITY_BYTES = 256 * 1024;

/** Collects what botbuilder writes, so the Functions response can be built from it. */
class CapturedResponse implements Response {
  statusCode = 200;
  body: unknown;
  headers: Record<string, string> = {};
  socket = undefined;
  status(code: number) {
    this.statusCode = code;
    return this;
  }
  header(name: string, value: unknown) {
    this.headers[name] = String(value);
    return this;
  }
  send(body?: unknown) {
    this.body = body;
    return this;
  }
  end() {
    return this;
  }
}

let built: { adapter: CloudAdapter; bot: TeamsNotifierBot } | undefined;

/** The adapter and the bot, built on the first activity from the shared services. */
function botServices() {
  if (!built) {
    const s = services();
    built = {
      adapter: createAdapter(s.config),
      bot: new TeamsNotifierBot({
        config: s.config,
        conversations: s.conversations,
        intake: s.intake,
        delivery: s.delivery,
        followUps: { contents: s.contents, followUps: s.followUps, deliveryRecords: s.deliveryRecords },
        deliveryQueue: s.deliveryQueue,
        installMarks: s.installMarks,
      }),
    };
  }
  return built;
}

const error = (status: number, message: string): HttpResponseInit => ({
  status,
  jsonBody: { error: message },
});

export async function handleMessages(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // The reasons below describe the request's shape, never quote its content.
  const refuse = (status: number, reason: string) => {
    context.warn(`activity refused: ${status} ${reason}`);
    return error(status, reason);
  };
  if (inboundAuthentication(services().config) === 'refuse') {
    // Fail closed: without an app ID no token can be checked (see reportInboundAuthentication).
    context.error('messages: activity refused: MicrosoftAppId is not set, so no token can be checked');
    return error(401, 'unauthorized: the bot has no MicrosoftAppId configured');
  }
  const body = await readLimitedBody(request, MAX_ACTIVITY_BYTES);
  if (!body.ok) return refuse(413, `activity larger than ${MAX_ACTIVITY_BYTES} bytes`);
  let activity: unknown;
  try {
    activity = JSON.parse(body.text);
  } catch {
    return refuse(400, 'request body is not valid JSON');
  }
  if (!activity || typeof activity !== 'object' || Array.isArray(activity)) {
    return refuse(400, 'request body must be a Bot Framework activity object');
  }
  const type = (activity as { type?: unknown }).type;
  if (typeof type !== 'string' || type === '') return refuse(400, 'activity.type is required');
  const problem = activityProblem(activity as Record<string, unknown>);
  if (problem) return refuse(400, problem);

  const { adapter, bot } = botServices();
  const outcome: TurnOutcome = {};
  let failure: unknown;
  let turnStarted = false;
  const req: Request = {
    body: activity as Record<string, unknown>,
    headers: Object.fromEntries(request.headers.entries()),
    method: 'POST',
  };
  const res = new CapturedResponse();
  await adapter.process(req, res, async (turn) => {
    turnStarted = true;
    try {
      await bot.onTurn(turn, outcome);
    } catch (err) {
      failure = err;
      throw err;
    }
  });

  if (outcome.refused) {
    context.warn(
      `messages: activity refused (${outcome.refused === 'tenant' ? 'tenant not allowed' : 'untrusted service URL'})`,
    );
    return error(403, outcome.refused === 'tenant' ? 'tenant not allowed' : 'service URL not trusted');
  }
  // botbuilder answers 500 to some token faults (a bad signature throws a plain JsonWebTokenError);
  // anything that fails before the turn starts was not authenticated, so it is a 401.
  if (res.statusCode === 401 || (res.statusCode >= 500 && !turnStarted)) {
    context.warn(
      `messages: activity refused: missing or invalid token (${String(res.body ?? '').slice(0, 120)})`,
    );
    return error(401, 'unauthorized');
  }
  if (outcome.summary) context.log(`bot: ${outcome.summary}`);
  if (res.statusCode === 501 && failure === undefined) {
    // botbuilder's answer to an invoke no handler answered: the bot implements none.
    return refuse(501, `the bot does not handle ${type.slice(0, 40)} activities`);
  }
  if (res.statusCode >= 500) {
    const err = failure as Error | undefined;
    context.error(
      `messages: activity ${type.slice(0, 40)} failed: ${err?.name ?? 'Error'}: ${err?.message ?? res.body}`,
    );
    return error(500, 'the activity could not be processed; Teams may retry');
  }
  if (res.body === undefined) {
    // botbuilder refuses some activities with a bare status; the caller still gets a reason.
    return res.statusCode >= 400
      ? error(res.statusCode, 'the Bot Framework adapter refused the activity')
      : { status: res.statusCode };
  }
  return typeof res.body === 'string'
    ? { status: res.statusCode, body: res.body }
    : { status: res.statusCode, jsonBody: res.body };
}
